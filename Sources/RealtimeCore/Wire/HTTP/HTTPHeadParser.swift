/// Limits on a request head, the slowloris and memory guards of the handshake.
public struct HTTPLimits: Sendable {
  /// Largest request head (request line, fields and the blank line), in bytes.
  public var maxHeadBytes: Int
  /// Most header fields.
  public var maxFields: Int

  /// Defaults: 16 KiB of head, 64 fields — far above what browsers send.
  public init(maxHeadBytes: Int = 16 << 10, maxFields: Int = 64) {
    self.maxHeadBytes = maxHeadBytes
    self.maxFields = maxFields
  }
}

/// Reads an HTTP/1.1 request head incrementally and strictly (RFC 9112): CRLF line endings,
/// token method and field names, no whitespace before a colon, no obsolete line folding, no
/// control characters. It stops at the blank line; what follows belongs to the next layer.
struct HTTPHeadParser {
  private let limits: HTTPLimits
  private var buffer: [UInt8] = []
  // Where to resume looking for the blank line: re-scanning from the start on every read would
  // make a byte-at-a-time sender cost quadratic time.
  private var scanFrom = 0

  init(limits: HTTPLimits = HTTPLimits()) {
    self.limits = limits
  }

  /// Bytes buffered so far.
  var bufferedBytes: Int { buffer.count }

  /// Feeds bytes. Returns the head and how many of `bytes` it used once the blank line arrived;
  /// nil while more is needed. Throws the answer to send when the head is malformed or too large.
  mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(HTTPError) -> (head: HTTPRequestHead, used: Int)? {
    let before = buffer.count
    let room = limits.maxHeadBytes - before
    let take = min(bytes.count, max(room, 0))
    buffer.append(contentsOf: bytes[0..<take])
    var i = max(scanFrom, 3)
    while i < buffer.count {
      if buffer[i] == 0x0A && buffer[i - 1] == 0x0D && buffer[i - 2] == 0x0A && buffer[i - 3] == 0x0D {
        let head = try parse(buffer[0..<(i - 3)])
        return (head, i + 1 - before)
      }
      i += 1
    }
    scanFrom = buffer.count
    if buffer.count >= limits.maxHeadBytes {
      throw HTTPError(431, "request head exceeds \(limits.maxHeadBytes) bytes")
    }
    return nil
  }

  private func parse(_ head: ArraySlice<UInt8>) throws(HTTPError) -> HTTPRequestHead {
    var lines: [ArraySlice<UInt8>] = []
    var start = head.startIndex
    var i = head.startIndex
    while i < head.endIndex {
      let byte = head[i]
      if byte == 0x0D {
        guard i + 1 < head.endIndex, head[i + 1] == 0x0A else {
          throw HTTPError(400, "bare CR in the request head")
        }
        lines.append(head[start..<i])
        i += 2
        start = i
        continue
      }
      if byte == 0x0A { throw HTTPError(400, "bare LF in the request head") }
      i += 1
    }
    lines.append(head[start..<head.endIndex])

    guard let requestLine = lines.first, !requestLine.isEmpty else {
      throw HTTPError(400, "empty request line")
    }
    let (method, target) = try parseRequestLine(requestLine)
    let fieldLines = lines.dropFirst()
    guard fieldLines.count <= limits.maxFields else {
      throw HTTPError(431, "more than \(limits.maxFields) header fields")
    }
    var fields: [HTTPRequestHead.Field] = []
    fields.reserveCapacity(fieldLines.count)
    for line in fieldLines { fields.append(try parseField(line)) }
    return HTTPRequestHead(method: method, target: target, fields: fields)
  }

  private func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTPError) -> (String, String) {
    let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
    guard parts.count == 3 else { throw HTTPError(400, "malformed request line") }
    let method = parts[0]
    let target = parts[1]
    let version = parts[2]
    guard !method.isEmpty, method.allSatisfy(isTokenByte) else {
      throw HTTPError(400, "malformed method")
    }
    guard !target.isEmpty, target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
      throw HTTPError(400, "malformed request target")
    }
    guard target.first == UInt8(ascii: "/") else {
      throw HTTPError(400, "request target must be a path (origin form)")
    }
    guard version.count == 8, version.starts(with: Array("HTTP/".utf8)),
      version[version.startIndex + 5].isDigit, version[version.startIndex + 6] == UInt8(ascii: "."),
      version[version.startIndex + 7].isDigit
    else { throw HTTPError(400, "malformed HTTP version") }
    guard Array(version) == Array("HTTP/1.1".utf8) else {
      throw HTTPError(505, "only HTTP/1.1 is supported")
    }
    return (String(decoding: method, as: UTF8.self), String(decoding: target, as: UTF8.self))
  }

  private func parseField(_ line: ArraySlice<UInt8>) throws(HTTPError) -> HTTPRequestHead.Field {
    guard let first = line.first else { throw HTTPError(400, "empty header line") }
    if first == 0x20 || first == 0x09 { throw HTTPError(400, "obsolete line folding is not accepted") }
    guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
      throw HTTPError(400, "header line without a colon")
    }
    let name = line[line.startIndex..<colon]
    guard !name.isEmpty, name.allSatisfy(isTokenByte) else {
      throw HTTPError(400, "malformed header field name")
    }
    var value = line[(colon + 1)...]
    while let b = value.first, b == 0x20 || b == 0x09 { value = value.dropFirst() }
    while let b = value.last, b == 0x20 || b == 0x09 { value = value.dropLast() }
    guard value.allSatisfy({ $0 == 0x09 || $0 >= 0x20 && $0 != 0x7F }) else {
      throw HTTPError(400, "control character in a header value")
    }
    return .init(
      name: String(decoding: name, as: UTF8.self).lowercased(), value: String(decoding: value, as: UTF8.self))
  }
}

/// RFC 9110 `tchar`.
private func isTokenByte(_ b: UInt8) -> Bool {
  switch b {
  case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
    UInt8(ascii: "0")...UInt8(ascii: "9"):
    return true
  default:
    return "!#$%&'*+-.^_`|~".utf8.contains(b)
  }
}

extension UInt8 {
  fileprivate var isDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }
}
