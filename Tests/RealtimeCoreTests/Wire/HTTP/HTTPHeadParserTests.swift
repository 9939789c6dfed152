import Testing

@testable import RealtimeCore

/// The outcome of feeding a head parser some pieces.
private enum HeadOutcome {
  case needMore
  case head(HTTPRequestHead, used: Int, piece: Int)
  case refused(status: Int, piece: Int)

  var head: HTTPRequestHead? {
    if case .head(let head, _, _) = self { return head }
    return nil
  }

  var status: Int? {
    if case .refused(let status, _) = self { return status }
    return nil
  }
}

private func feed(_ pieces: [[UInt8]], limits: HTTPLimits = HTTPLimits()) -> HeadOutcome {
  var parser = HTTPHeadParser(limits: limits)
  for (index, piece) in pieces.enumerated() {
    let result: Result<(head: HTTPRequestHead, used: Int)?, HTTPError> = piece.withUnsafeBytes { raw in
      do throws(HTTPError) { return .success(try parser.feed(raw)) } catch { return .failure(error) }
    }
    switch result {
    case .success(let parsed?): return .head(parsed.head, used: parsed.used, piece: index)
    case .success(nil): continue
    case .failure(let error): return .refused(status: error.status, piece: index)
    }
  }
  return .needMore
}

private func feed(_ text: String, limits: HTTPLimits = HTTPLimits()) -> HeadOutcome {
  feed([Array(text.utf8)], limits: limits)
}

private func status(_ text: String, limits: HTTPLimits = HTTPLimits()) -> Int? {
  feed(text, limits: limits).status
}

private func fields(_ pairs: [(String, String)]) -> [HTTPRequestHead.Field] {
  pairs.map { HTTPRequestHead.Field(name: $0.0, value: $0.1) }
}

/// A head of `request line`, `fields` and the blank line.
private func head(_ requestLine: String = "GET / HTTP/1.1", _ fieldLines: [String] = ["Host: a"]) -> String {
  ([requestLine] + fieldLines).map { $0 + "\r\n" }.joined() + "\r\n"
}

@Suite struct HTTPHeadParserTests {
  /// What Chrome sends to open a WebSocket.
  static let browserRequest =
    [
      "GET /chat?room=lobby&x=1 HTTP/1.1",
      "Host: example.com:8080",
      "Connection: Upgrade",
      "Pragma: no-cache",
      "Cache-Control: no-cache",
      "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
      "Upgrade: websocket",
      "Origin: https://example.com",
      "Sec-WebSocket-Version: 13",
      "Accept-Encoding: gzip, deflate, br, zstd",
      "Accept-Language: en-US,en;q=0.9",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
    ].map { $0 + "\r\n" }.joined() + "\r\n"

  static let browserFields = fields([
    ("host", "example.com:8080"),
    ("connection", "Upgrade"),
    ("pragma", "no-cache"),
    ("cache-control", "no-cache"),
    (
      "user-agent",
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
    ),
    ("upgrade", "websocket"),
    ("origin", "https://example.com"),
    ("sec-websocket-version", "13"),
    ("accept-encoding", "gzip, deflate, br, zstd"),
    ("accept-language", "en-US,en;q=0.9"),
    ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("sec-websocket-extensions", "permessage-deflate; client_max_window_bits"),
  ])

  private func expectBrowserHead(_ head: HTTPRequestHead?, _ comment: Comment? = nil) {
    guard let head else {
      Issue.record("no head; \(comment?.description ?? "")")
      return
    }
    #expect(head.method == "GET", comment)
    #expect(head.target == "/chat?room=lobby&x=1", comment)
    #expect(head.path == "/chat", comment)
    #expect(head.query == "room=lobby&x=1", comment)
    #expect(head.fields == Self.browserFields, comment)
  }

  @Test func browserUpgradeInOnePiece() {
    let bytes = Array(Self.browserRequest.utf8)
    guard case .head(let head, let used, _) = feed([bytes]) else {
      Issue.record("not parsed")
      return
    }
    #expect(used == bytes.count)
    expectBrowserHead(head)
  }

  @Test func browserUpgradeByteByByte() {
    let bytes = Array(Self.browserRequest.utf8)
    var parser = HTTPHeadParser()
    for (i, byte) in bytes.enumerated() {
      let fed: Result<(head: HTTPRequestHead, used: Int)?, HTTPError> = [byte].withUnsafeBytes { raw in
        do throws(HTTPError) { return .success(try parser.feed(raw)) } catch { return .failure(error) }
      }
      guard case .success(let result) = fed else {
        Issue.record("refused at byte \(i): \(fed)")
        return
      }
      if i < bytes.count - 1 {
        #expect(result == nil, "complete too early, at byte \(i)")
        #expect(parser.bufferedBytes == i + 1)
      } else {
        #expect(result?.used == 1)
        expectBrowserHead(result?.head)
      }
    }
  }

  @Test func bytesAfterTheBlankLineAreNotConsumed() {
    let head = Array(Self.browserRequest.utf8)
    let extra: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21]
    guard case .head(let parsed, let used, _) = feed([head + extra]) else {
      Issue.record("not parsed")
      return
    }
    #expect(used == head.count)
    expectBrowserHead(parsed)

    // Also when the extra bytes arrive with the end of the head in a later read.
    for cut in [1, 10, head.count - 4, head.count - 1] {
      guard case .head(let parsed, let used, let piece) = feed([Array(head[..<cut]), Array(head[cut...]) + extra])
      else {
        Issue.record("not parsed when cut at \(cut)")
        continue
      }
      #expect(piece == 1)
      #expect(used == head.count - cut, "cut at \(cut)")
      expectBrowserHead(parsed, "cut at \(cut)")
    }
  }

  @Test func everyTwoWaySplitGivesTheSameHead() {
    let bytes = Array(Self.browserRequest.utf8)
    for cut in 0...bytes.count {
      let outcome = feed([Array(bytes[..<cut]), Array(bytes[cut...])])
      guard case .head(let head, let used, let piece) = outcome else {
        Issue.record("cut at \(cut): \(outcome)")
        continue
      }
      if cut == bytes.count {
        #expect(piece == 0)
        #expect(used == bytes.count)
      } else {
        #expect(piece == 1, "cut at \(cut)")
        #expect(used == bytes.count - cut, "cut at \(cut)")
      }
      expectBrowserHead(head, "cut at \(cut)")
    }
  }

  @Test func incompleteHeadNeedsMore() {
    var parser = HTTPHeadParser()
    let partial = Array("GET / HTTP/1.1\r\nHost: a\r\n\r".utf8)
    let result = partial.withUnsafeBytes { raw in
      do throws(HTTPError) { return try parser.feed(raw) == nil } catch { return false }
    }
    #expect(result, "needs more, no error")
    #expect(parser.bufferedBytes == partial.count)
    guard case .needMore = feed([partial]) else {
      Issue.record("expected need-more")
      return
    }
  }

  @Test func minimalRequestAndFieldValueTrimming() {
    let outcome = feed(
      head("GET /x HTTP/1.1", ["Host:a", "X-Spaced: \t  padded value \t ", "X-Empty:", "x-TAB: a\tb", "X-Utf8: café"]))
    guard let parsed = outcome.head else {
      Issue.record("\(outcome)")
      return
    }
    #expect(parsed.method == "GET")
    #expect(parsed.target == "/x")
    #expect(
      parsed.fields
        == fields([("host", "a"), ("x-spaced", "padded value"), ("x-empty", ""), ("x-tab", "a\tb"), ("x-utf8", "café")])
    )
  }

  @Test func requestWithoutFieldsParses() {
    let outcome = feed("GET / HTTP/1.1\r\n\r\n")
    #expect(outcome.head?.fields == [])
    #expect(outcome.head?.target == "/")
  }

  @Test func methodIsAnyToken() {
    #expect(feed(head("POST /submit HTTP/1.1")).head?.method == "POST")
    #expect(feed(head("M-SEARCH / HTTP/1.1")).head?.method == "M-SEARCH")
    #expect(feed(head("get / HTTP/1.1")).head?.method == "get")
  }

  // MARK: - Refusals

  @Test(arguments: [
    "GET / HTTP/1.1\nHost: a\r\n\r\n",  // bare LF ending the request line
    "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",  // bare LF ending a field
    "GET / HTTP/1.1\r\nX: a\nb\r\nHost: a\r\n\r\n",  // bare LF inside a value
    "GET / HTTP/1.1\r\n\nHost: a\r\n\r\n",  // LF alone as a line
  ])
  func bareLFIsRefused(_ text: String) {
    #expect(status(text) == 400)
  }

  @Test(arguments: [
    "GET / HTTP/1.1\rHost: a\r\n\r\n",  // bare CR ending the request line
    "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",  // bare CR inside a value
    "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n",  // CR CR LF
    "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",  // CR in the target
  ])
  func bareCRIsRefused(_ text: String) {
    #expect(status(text) == 400)
  }

  @Test func obsoleteLineFoldingIsRefused() {
    #expect(status(head("GET / HTTP/1.1", ["Host: a", "X-Long: first", " continued"])) == 400)
    #expect(status(head("GET / HTTP/1.1", ["Host: a", "X-Long: first", "\tcontinued"])) == 400)
    // A first field line that starts with whitespace is folding onto the request line.
    #expect(status(head("GET / HTTP/1.1", [" Host: a"])) == 400)
  }

  @Test func fieldNameSyntaxIsStrict() {
    #expect(status(head("GET / HTTP/1.1", ["Host : a"])) == 400, "space before the colon")
    #expect(status(head("GET / HTTP/1.1", ["Host\t: a"])) == 400, "tab before the colon")
    #expect(status(head("GET / HTTP/1.1", ["Host a"])) == 400, "missing colon")
    #expect(status(head("GET / HTTP/1.1", ["Host: a", "NoColonHere"])) == 400, "missing colon")
    #expect(status(head("GET / HTTP/1.1", [": a"])) == 400, "empty name")
    #expect(status(head("GET / HTTP/1.1", ["Ho(st: a"])) == 400, "separator in the name")
    #expect(status(head("GET / HTTP/1.1", ["Hóst: a"])) == 400, "non-ASCII name")
    // Every tchar is accepted.
    #expect(
      feed(head("GET / HTTP/1.1", ["!#$%&'*+-.^_`|~09azAZ: v"])).head?.fields
        == fields([("!#$%&'*+-.^_`|~09azaz", "v")]))
  }

  @Test(arguments: [0x00, 0x01, 0x08, 0x0B, 0x0C, 0x1B, 0x1F, 0x7F] as [UInt8])
  func controlCharacterInAValueIsRefused(_ control: UInt8) {
    let bytes = Array("GET / HTTP/1.1\r\nHost: a\r\nX: a".utf8) + [control] + Array("b\r\n\r\n".utf8)
    #expect(feed([bytes]).status == 400)
    // Also as the only byte of a value.
    let alone = Array("GET / HTTP/1.1\r\nX: ".utf8) + [control] + Array("\r\n\r\n".utf8)
    #expect(feed([alone]).status == 400)
  }

  @Test(arguments: [
    "G{T / HTTP/1.1",
    "GE\"T / HTTP/1.1",
    "GÉT / HTTP/1.1",
    " / HTTP/1.1",
    "GET  / HTTP/1.1",
    "GET / HTTP/1.1 ",
    "GET /  HTTP/1.1",
    "GET\t/ HTTP/1.1",
    "GET /",
    "GET / ",
    "GET",
  ])
  func malformedRequestLineIsRefused(_ line: String) {
    #expect(status(head(line)) == 400)
  }

  @Test(arguments: [
    "GET http://example.com/chat HTTP/1.1",  // absolute form
    "CONNECT example.com:443 HTTP/1.1",  // authority form
    "OPTIONS * HTTP/1.1",  // asterisk form
    "GET chat HTTP/1.1",  // relative
    "GET /a\u{7F}b HTTP/1.1",  // DEL in the target
    "GET /caf\u{E9} HTTP/1.1",  // non-ASCII in the target
  ])
  func targetMustBeOriginForm(_ line: String) {
    #expect(status(head(line)) == 400)
  }

  @Test(arguments: ["HTTP/1.0", "HTTP/2.0", "HTTP/0.9", "HTTP/1.2", "HTTP/3.0"])
  func otherHTTPVersionsAre505(_ version: String) {
    #expect(status(head("GET / \(version)")) == 505)
  }

  @Test(arguments: [
    "HTTX/1.1", "http/1.1", "HTTP/1", "HTTP/1.11", "HTTP/a.1", "HTTP/1.b", "HTTP/1,1", "HTTP 1.1", "1.1", "HTTP/11",
    "HTTP/-1.1",
  ])
  func garbageVersionIs400(_ version: String) {
    #expect(status(head("GET / \(version)")) == 400)
  }

  @Test func emptyHeadIsRefused() {
    #expect(status("\r\n\r\n") == 400)
  }

  // MARK: - Limits

  @Test func defaultLimits() {
    let limits = HTTPLimits()
    #expect(limits.maxHeadBytes == 16 * 1024)
    #expect(limits.maxFields == 64)
  }

  @Test func twoThousandFieldsAre431() {
    // 5 bytes per field, 10,000 in all: under the byte limit, so the field count is what refuses.
    let lines = Array(repeating: "a:b", count: 2_000)
    let text = head("GET / HTTP/1.1", lines)
    #expect(text.utf8.count < 16 * 1024)
    #expect(status(text) == 431)
    #expect(status(text, limits: HTTPLimits(maxHeadBytes: 1 << 20)) == 431)
  }

  @Test func fieldCountAtTheLimitIsAccepted() {
    let sixtyFour = (0..<64).map { "X-\($0): v" }
    #expect(feed(head("GET / HTTP/1.1", sixtyFour)).head?.fields.count == 64)
    let sixtyFive = (0..<65).map { "X-\($0): v" }
    #expect(status(head("GET / HTTP/1.1", sixtyFive)) == 431)
    #expect(feed(head("GET / HTTP/1.1", ["A: 1", "B: 2"]), limits: HTTPLimits(maxFields: 2)).head?.fields.count == 2)
    #expect(status(head("GET / HTTP/1.1", ["A: 1", "B: 2", "C: 3"]), limits: HTTPLimits(maxFields: 2)) == 431)
  }

  @Test func hugeFieldLineIs431() {
    let big = head("GET / HTTP/1.1", ["Host: a", "X-Big: " + String(repeating: "x", count: 64 * 1024)])
    #expect(status(big) == 431)
    // Streamed: refused as soon as 16 KiB have arrived without the blank line, not later.
    let bytes = Array(big.utf8)
    let outcome = feed(
      stride(from: 0, to: bytes.count, by: 1000).map { Array(bytes[$0..<min($0 + 1000, bytes.count)]) })
    guard case .refused(431, let piece) = outcome else {
      Issue.record("\(outcome)")
      return
    }
    #expect(piece == 16, "the piece holding byte 16,384")
  }

  @Test func byteByByteOverflowIsRefusedAtTheLimitByte() {
    let limits = HTTPLimits(maxHeadBytes: 100)
    let bytes = Array(("GET / HTTP/1.1\r\nX: " + String(repeating: "y", count: 200)).utf8)
    let outcome = feed(bytes.map { [$0] }, limits: limits)
    guard case .refused(431, let piece) = outcome else {
      Issue.record("\(outcome)")
      return
    }
    #expect(piece == 99)
  }

  /// A head of exactly `size` bytes.
  private func paddedHead(size: Int) -> [UInt8] {
    let prefix = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: "
    let suffix = "\r\n\r\n"
    let pad = size - prefix.utf8.count - suffix.utf8.count
    return Array((prefix + String(repeating: "p", count: pad) + suffix).utf8)
  }

  @Test func headOfExactlyTheByteLimitIsAccepted() {
    let exact = paddedHead(size: 16 * 1024)
    #expect(exact.count == 16_384)
    guard case .head(let parsed, let used, _) = feed([exact]) else {
      Issue.record("exact-size head refused")
      return
    }
    #expect(used == 16_384)
    #expect(parsed.fields.last?.value.utf8.count == 16_384 - 36)
    // With more bytes behind it in the same read.
    guard case .head(_, let usedWithExtra, _) = feed([exact + [1, 2, 3, 4, 5]]) else {
      Issue.record("exact-size head with trailing bytes refused")
      return
    }
    #expect(usedWithExtra == 16_384)
    // Byte by byte.
    guard case .head(_, let lastUsed, let piece) = feed(exact.map { [$0] }) else {
      Issue.record("exact-size head refused byte by byte")
      return
    }
    #expect(piece == exact.count - 1)
    #expect(lastUsed == 1)
    // One byte more is too much.
    #expect(feed([paddedHead(size: 16 * 1024 + 1)]).status == 431)
    #expect(feed(paddedHead(size: 16 * 1024 + 1).map { [$0] }).status == 431)
    // A custom limit.
    #expect(feed([paddedHead(size: 200)], limits: HTTPLimits(maxHeadBytes: 200)).head != nil)
    #expect(feed([paddedHead(size: 201)], limits: HTTPLimits(maxHeadBytes: 200)).status == 431)
  }

  // MARK: - Helpers on the head

  @Test func tokensSplitTrimAndLowercase() {
    guard
      let parsed = feed(
        head("GET / HTTP/1.1", ["Connection: keep-alive, Upgrade", "Foo: A ,\tB\t", "foo: c", "X-One: Single"])
      ).head
    else {
      Issue.record("not parsed")
      return
    }
    #expect(parsed.tokens("connection") == ["keep-alive", "upgrade"])
    #expect(parsed.tokens("foo") == ["a", "b", "c"])
    #expect(parsed.tokens("x-one") == ["single"])
    #expect(parsed.tokens("missing") == [])
    #expect(parsed.values("foo") == ["A ,\tB", "c"])
    #expect(parsed.values("connection") == ["keep-alive, Upgrade"])
    #expect(parsed.values("Connection") == [], "names are looked up in lowercase")
  }

  /// RFC 9110 §5.6.1.2: a recipient must ignore empty list elements, whitespace-only ones
  /// included (`a, ,b` has two elements, like `a,,b`).
  @Test func tokensIgnoreEmptyListElements() {
    guard let parsed = feed(head("GET / HTTP/1.1", ["Foo: a,,b", "Bar: a, ,b", "Baz: , a ,\t, b, "])).head else {
      Issue.record("not parsed")
      return
    }
    #expect(parsed.tokens("foo") == ["a", "b"])
    #expect(parsed.tokens("bar") == ["a", "b"])
    #expect(parsed.tokens("baz") == ["a", "b"])
  }

  @Test(
    arguments: [
      ("/", "/", nil),
      ("/chat", "/chat", nil),
      ("/chat?room=1", "/chat", "room=1"),
      ("/a/b?x=1&y=2?z", "/a/b", "x=1&y=2?z"),
      ("/chat?", "/chat", ""),
      ("/?q", "/", "q"),
    ] as [(String, String, String?)])
  func pathAndQuery(_ target: String, _ path: String, _ query: String?) {
    guard let parsed = feed(head("GET \(target) HTTP/1.1")).head else {
      Issue.record("not parsed")
      return
    }
    #expect(parsed.target == target)
    #expect(parsed.path == Substring(path))
    #expect(parsed.query.map(String.init) == query)
  }

  @Test func httpErrorReasons() {
    let expected: [Int: String] = [
      400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
      426: "Upgrade Required", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
      503: "Service Unavailable", 505: "HTTP Version Not Supported",
    ]
    for (code, reason) in expected { #expect(HTTPError(code, "x").reason == reason) }
  }
}
