import Foundation
import Testing

@testable import RealtimeCore

/// Parses `lines` (request line first) as a complete head; fails the test if it does not parse.
private func parseHead(_ lines: [String], sourceLocation: SourceLocation = #_sourceLocation) -> HTTPRequestHead? {
  let bytes = Array((lines.map { $0 + "\r\n" }.joined() + "\r\n").utf8)
  var parser = HTTPHeadParser()
  let fed: Result<(head: HTTPRequestHead, used: Int)?, HTTPError> = bytes.withUnsafeBytes { raw in
    do throws(HTTPError) { return .success(try parser.feed(raw)) } catch { return .failure(error) }
  }
  switch fed {
  case .success(let result?):
    #expect(result.used == bytes.count, sourceLocation: sourceLocation)
    return result.head
  case .success(nil):
    Issue.record("head incomplete", sourceLocation: sourceLocation)
    return nil
  case .failure(let error):
    Issue.record("head refused: \(error)", sourceLocation: sourceLocation)
    return nil
  }
}

/// The status `validate` refuses `lines` with, or nil if it accepts them.
private func refusal(_ lines: [String], sourceLocation: SourceLocation = #_sourceLocation) -> Int? {
  guard let head = parseHead(lines, sourceLocation: sourceLocation) else { return -1 }
  do {
    _ = try Handshake.validate(head)
    return nil
  } catch {
    return error.status
  }
}

/// The RFC 6455 §1.2 request, with `replacing` fields (by lowercase name) swapped out.
private func request(
  method: String = "GET", target: String = "/chat", removing: Set<String> = [], adding: [String] = []
) -> [String] {
  let fields = [
    "Host: server.example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Origin: http://example.com",
    "Sec-WebSocket-Protocol: chat, superchat",
    "Sec-WebSocket-Version: 13",
  ].filter { line in !removing.contains(String(line.prefix { $0 != ":" }).lowercased()) }
  return ["\(method) \(target) HTTP/1.1"] + fields + adding
}

/// base64 (standard alphabet, padded) of `bytes`.
private func base64(_ bytes: [UInt8]) -> String {
  let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
  var out: [UInt8] = []
  var i = 0
  while i < bytes.count {
    let b0 = bytes[i]
    let b1 = i + 1 < bytes.count ? bytes[i + 1] : 0
    let b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
    out.append(alphabet[Int(b0 >> 2)])
    out.append(alphabet[Int((b0 & 3) << 4 | b1 >> 4)])
    out.append(i + 1 < bytes.count ? alphabet[Int((b1 & 0xF) << 2 | b2 >> 6)] : UInt8(ascii: "="))
    out.append(i + 2 < bytes.count ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
    i += 3
  }
  return String(decoding: out, as: UTF8.self)
}

/// Splits an HTTP response into status line, fields and body, checking the framing.
private func splitResponse(_ bytes: [UInt8]) -> (statusLine: String, fields: [String], body: [UInt8])? {
  let blank = Array("\r\n\r\n".utf8)
  guard let end = (0...(bytes.count - 4)).first(where: { Array(bytes[$0..<($0 + 4)]) == blank }) else { return nil }
  let headText = String(decoding: bytes[..<end], as: UTF8.self)
  let lines = headText.components(separatedBy: "\r\n")
  return (lines[0], Array(lines.dropFirst()), Array(bytes[(end + 4)...]))
}

@Suite struct HandshakeTests {
  /// RFC 6455 §1.3. (Base64 of a 20-byte SHA-1 is 28 characters.)
  @Test func acceptValueOfTheRFCExample() {
    #expect(Handshake.acceptValue(for: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    #expect(Handshake.guid == "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
  }

  @Test func acceptValueOfOtherKeys() {
    // Known pairs (computed independently: base64(sha1(key + GUID))).
    #expect(Handshake.acceptValue(for: "x3JJHMbDL1EzLkh9GBhXDw==") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk=")
    #expect(Handshake.acceptValue(for: "AAAAAAAAAAAAAAAAAAAAAA==") == "ICX+Yqv66kxgM0FcWaLWlFLwTAI=")
  }

  @Test func validatesTheRFCRequest() throws {
    let head = try #require(parseHead(request()))
    let accepted = try Handshake.validate(head)
    #expect(
      accepted
        == Handshake.Request(
          path: "/chat", query: nil, key: "dGhlIHNhbXBsZSBub25jZQ==", origin: "http://example.com",
          protocols: ["chat", "superchat"], host: "server.example.com"))
  }

  @Test func validatesABrowserRequestWithQueryAndNoProtocols() throws {
    let head = try #require(
      parseHead([
        "GET /live/feed?room=7&token=abc HTTP/1.1",
        "host: localhost:9000",
        "connection: keep-alive, Upgrade",
        "upgrade: WebSocket",
        "sec-websocket-version: 13",
        "sec-websocket-key: x3JJHMbDL1EzLkh9GBhXDw==",
        "Sec-WebSocket-Extensions: permessage-deflate",
      ]))
    let accepted = try Handshake.validate(head)
    #expect(
      accepted
        == Handshake.Request(
          path: "/live/feed", query: "room=7&token=abc", key: "x3JJHMbDL1EzLkh9GBhXDw==", origin: nil, protocols: [],
          host: "localhost:9000"))
  }

  /// Sub-protocol names are case-sensitive tokens (RFC 6455 §4.1, §11.3.4): the server must echo
  /// one exactly as offered, so the offered names must be kept as sent.
  @Test func offeredProtocolsKeepTheirCase() throws {
    let head = try #require(
      parseHead(
        request(removing: ["sec-websocket-protocol"], adding: ["Sec-WebSocket-Protocol: MQTT, v2.Chat.Example"])))
    let offered = try Handshake.validate(head).protocols
    #expect(offered == ["MQTT", "v2.Chat.Example"])
  }

  @Test func protocolsFromSeveralFieldsInOrder() throws {
    let head = try #require(
      parseHead(
        request(
          removing: ["sec-websocket-protocol"], adding: ["Sec-WebSocket-Protocol: a", "Sec-WebSocket-Protocol: b, c"])))
    #expect(try Handshake.validate(head).protocols == ["a", "b", "c"])
  }

  @Test(arguments: ["POST", "PUT", "HEAD", "DELETE", "OPTIONS", "get", "Get"])
  func otherMethodsAre405(_ method: String) {
    #expect(refusal(request(method: method)) == 405)
  }

  @Test func hostIsRequiredExactlyOnce() {
    #expect(refusal(request(removing: ["host"])) == 400, "missing Host")
    #expect(refusal(request(adding: ["Host: other.example.com"])) == 400, "two Host fields")
    #expect(refusal(request(adding: ["Host: server.example.com"])) == 400, "the same Host twice")
    #expect(refusal(request(removing: ["host"], adding: ["Host:"])) == 400, "empty Host")
  }

  @Test func upgradeMustNameWebSocket() {
    #expect(refusal(request(removing: ["upgrade"])) == 426, "missing Upgrade")
    #expect(refusal(request(removing: ["upgrade"], adding: ["Upgrade: h2c"])) == 426)
    #expect(refusal(request(removing: ["upgrade"], adding: ["Upgrade: websockets"])) == 426)
    #expect(refusal(request(removing: ["upgrade"], adding: ["Upgrade: WEBSOCKET"])) == nil, "case-insensitive")
    #expect(refusal(request(removing: ["upgrade"], adding: ["Upgrade: h2c, websocket"])) == nil, "one of a list")
  }

  @Test func connectionMustContainUpgrade() {
    #expect(refusal(request(removing: ["connection"])) == 400, "missing Connection")
    #expect(refusal(request(removing: ["connection"], adding: ["Connection: keep-alive"])) == 400)
    #expect(refusal(request(removing: ["connection"], adding: ["Connection: close"])) == 400)
    #expect(refusal(request(removing: ["connection"], adding: ["Connection: upgrades"])) == 400)
    #expect(refusal(request(removing: ["connection"], adding: ["Connection: keep-alive, UPGRADE"])) == nil)
    #expect(
      refusal(request(removing: ["connection"], adding: ["Connection: keep-alive", "Connection: upgrade"])) == nil)
  }

  @Test func versionMustBe13() {
    #expect(refusal(request(removing: ["sec-websocket-version"], adding: ["Sec-WebSocket-Version: 8"])) == 426)
    #expect(refusal(request(removing: ["sec-websocket-version"], adding: ["Sec-WebSocket-Version: 14"])) == 426)
    #expect(refusal(request(removing: ["sec-websocket-version"])) == 426, "missing version")
    #expect(
      refusal(request(removing: ["sec-websocket-version"], adding: ["Sec-WebSocket-Version:"])) == 426, "empty version")
    #expect(refusal(request(removing: ["sec-websocket-version"], adding: ["Sec-WebSocket-Version: 13, 8"])) == 426)
    #expect(refusal(request(adding: ["Sec-WebSocket-Version: 8"])) == 426, "two version fields")
  }

  @Test func keyIsRequiredExactlyOnce() {
    #expect(refusal(request(removing: ["sec-websocket-key"])) == 400, "missing key")
    #expect(refusal(request(adding: ["Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw=="])) == 400, "duplicate key")
    #expect(refusal(request(adding: ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="])) == 400, "the same key twice")
  }

  static let badKeys: [(String, String)] = [
    ("empty", ""),
    ("15 bytes", base64(Array(0..<15))),
    ("17 bytes", base64(Array(0..<17))),
    ("12 bytes", base64(Array(0..<12))),
    ("18 bytes", base64(Array(0..<18))),
    ("unpadded 16 bytes", String(base64(Array(0..<16)).dropLast(2))),
    ("one pad character too few", String(base64(Array(0..<16)).dropLast(1))),
    ("non-base64 character", "dGhlIHNhbXBsZSBub25jZQ!="),
    ("non-base64 punctuation", "dGhlIHNh*XBsZSBub25jZQ=="),
    ("URL-safe alphabet, -", base64(Array(repeating: 0xFB, count: 16)).replacingOccurrences(of: "+", with: "-")),
    ("URL-safe alphabet, _", base64(Array(repeating: 0xFF, count: 16)).replacingOccurrences(of: "/", with: "_")),
    ("padding in the middle", "dGhl=HNhbXBsZSBub25jZQ=="),
    ("too much padding", "dGhlIHNhbXBsZSBub25jZ==="),
    ("embedded spaces", "dGhl IHNh bXBs ZSBu b25jZQ=="),
    ("embedded tabs", "dGhl\tIHNh\tbXBs\tZSBub25j\tZQ=="),
    ("non-ASCII", "dGhlIHNhbXBsZSBub25jZé=="),
  ]

  @Test(arguments: badKeys.indices)
  func keyMustBeSixteenBytesOfStandardBase64(_ index: Int) {
    let (name, key) = Self.badKeys[index]
    #expect(
      refusal(request(removing: ["sec-websocket-key"], adding: ["Sec-WebSocket-Key: \(key)"])) == 400, "\(name): \(key)"
    )
  }

  @Test func sixteenByteKeysInTheStandardAlphabetAreAccepted() throws {
    for fill: UInt8 in [0x00, 0xFB, 0xFF, 0x3E, 0x7F] {
      let key = base64(Array(repeating: fill, count: 16))
      #expect(key.utf8.count == 24)
      let head = try #require(
        parseHead(request(removing: ["sec-websocket-key"], adding: ["Sec-WebSocket-Key: \(key)"])))
      #expect(try Handshake.validate(head).key == key)
    }
    #expect(Handshake.decodedLength("dGhlIHNhbXBsZSBub25jZQ==") == 16)
    #expect(Handshake.decodedLength(base64(Array(0..<15))) == 15)
    #expect(Handshake.decodedLength("not base64!") == nil)
  }

  @Test func originAtMostOnce() {
    #expect(refusal(request(adding: ["Origin: http://evil.example"])) == 400, "two Origin fields")
    #expect(refusal(request(adding: ["Origin: http://example.com"])) == 400, "the same Origin twice")
    #expect(refusal(request(removing: ["origin"])) == nil, "Origin is optional")
  }

  @Test func switchingProtocolsMatchesTheRFC() {
    let expected =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    #expect(Handshake.switchingProtocols(key: "dGhlIHNhbXBsZSBub25jZQ==") == Array(expected.utf8))
    // RFC 6455 §1.2, with the sub-protocol the server chose.
    let withProtocol =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
    #expect(Handshake.switchingProtocols(key: "dGhlIHNhbXBsZSBub25jZQ==", protocol: "chat") == Array(withProtocol.utf8))
  }

  @Test(arguments: [400, 403, 404, 405, 408, 426, 431, 500, 503, 505])
  func refusalIsAWellFormedResponse(_ status: Int) throws {
    let error = HTTPError(status, "no — not like this é")
    let bytes = Handshake.refusal(error)
    let (statusLine, fields, body) = try #require(splitResponse(bytes))
    #expect(statusLine == "HTTP/1.1 \(status) \(error.reason)")
    #expect(error.reason != "Error")
    #expect(body == Array("no — not like this é\n".utf8))
    let lengths = fields.filter { $0.lowercased().hasPrefix("content-length:") }
    #expect(lengths == ["Content-Length: \(body.count)"])
    #expect(fields.contains("Connection: close"))
    #expect(fields.contains("Content-Type: text/plain; charset=utf-8"))
    for field in fields {
      #expect(field.contains(": "), "malformed field \(field)")
      #expect(!field.contains("\r") && !field.contains("\n"))
    }
    let versions = fields.filter { $0.lowercased().hasPrefix("sec-websocket-version:") }
    if status == 426 {
      #expect(versions == ["Sec-WebSocket-Version: 13"])
      #expect(fields.contains("Upgrade: websocket"))
    } else {
      #expect(versions == [])
    }
  }

  @Test func refusalOfARealHeadEndToEnd() throws {
    let head = try #require(
      parseHead(request(removing: ["sec-websocket-version"], adding: ["Sec-WebSocket-Version: 8"])))
    do {
      _ = try Handshake.validate(head)
      Issue.record("accepted")
    } catch {
      let bytes = Handshake.refusal(error)
      let text = String(decoding: bytes, as: UTF8.self)
      #expect(text.hasPrefix("HTTP/1.1 426 Upgrade Required\r\n"))
      #expect(text.contains("\r\nSec-WebSocket-Version: 13\r\n"))
      let (_, _, body) = try #require(splitResponse(bytes))
      #expect(body == Array((error.message + "\n").utf8))
    }
  }
}
