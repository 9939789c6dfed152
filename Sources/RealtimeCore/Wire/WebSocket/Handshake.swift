import CNettle

/// The opening handshake of RFC 6455 §4.2: validating a client's upgrade request and writing the
/// server's answer.
enum Handshake {
  /// The GUID RFC 6455 appends to the client's key before hashing.
  static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

  /// What a valid upgrade request carried.
  struct Request: Sendable, Equatable {
    let path: String
    let query: String?
    /// The client's Sec-WebSocket-Key, as sent (24 base64 characters).
    let key: String
    let origin: String?
    /// Sub-protocols the client offered, in its order.
    let protocols: [String]
    let host: String
  }

  /// Checks `head` against RFC 6455 §4.2.1. Throws the HTTP answer to send otherwise:
  /// 405 for another method, 400 for missing or malformed fields, 426 for another version.
  static func validate(_ head: HTTPRequestHead) throws(HTTPError) -> Request {
    guard head.method == "GET" else { throw HTTPError(405, "a WebSocket upgrade must be a GET") }
    let hosts = head.values("host")
    guard hosts.count == 1, !hosts[0].isEmpty else { throw HTTPError(400, "exactly one Host field is required") }
    guard head.tokens("upgrade").contains("websocket") else {
      throw HTTPError(426, "this endpoint speaks WebSocket: send Upgrade: websocket")
    }
    guard head.tokens("connection").contains("upgrade") else {
      throw HTTPError(400, "the Connection field must contain Upgrade")
    }
    let versions = head.values("sec-websocket-version")
    guard versions == ["13"] else {
      throw HTTPError(426, "Sec-WebSocket-Version must be 13")
    }
    let keys = head.values("sec-websocket-key")
    guard keys.count == 1 else {
      throw HTTPError(400, keys.isEmpty ? "Sec-WebSocket-Key is missing" : "Sec-WebSocket-Key appears more than once")
    }
    guard isCanonicalKey(keys[0]) else {
      throw HTTPError(400, "Sec-WebSocket-Key must be 16 bytes in base64")
    }
    let origins = head.values("origin")
    guard origins.count <= 1 else { throw HTTPError(400, "Origin appears more than once") }
    return Request(
      path: String(head.path), query: head.query.map(String.init), key: keys[0], origin: origins.first,
      protocols: head.list("sec-websocket-protocol"), host: hosts[0])
  }

  /// Sec-WebSocket-Accept for `key`: base64 of the SHA-1 of the key and the GUID.
  static func acceptValue(for key: String) -> String {
    var digest = [UInt8](repeating: 0, count: Int(SHA1_DIGEST_SIZE))
    var context = sha1_ctx()
    nettle_sha1_init(&context)
    let input = Array((key + guid).utf8)
    input.withUnsafeBufferPointer { nettle_sha1_update(&context, $0.count, $0.baseAddress) }
    digest.withUnsafeMutableBufferPointer { nettle_sha1_digest(&context, $0.count, $0.baseAddress) }
    var encoded = [CChar](repeating: 0, count: 28)  // BASE64_ENCODE_RAW_LENGTH(20)
    encoded.withUnsafeMutableBufferPointer { out in
      digest.withUnsafeBufferPointer { nettle_base64_encode_raw(out.baseAddress, $0.count, $0.baseAddress) }
    }
    return String(decoding: encoded.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// The 101 answer that completes the handshake.
  static func switchingProtocols(key: String, protocol chosen: String? = nil) -> [UInt8] {
    var text = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    text += "Sec-WebSocket-Accept: \(acceptValue(for: key))\r\n"
    if let chosen { text += "Sec-WebSocket-Protocol: \(chosen)\r\n" }
    text += "\r\n"
    return Array(text.utf8)
  }

  /// A complete plain-text HTTP answer for a refused request; the connection closes after it.
  static func refusal(_ error: HTTPError) -> [UInt8] {
    let body = error.message + "\n"
    var text = "HTTP/1.1 \(error.status) \(error.reason)\r\nContent-Type: text/plain; charset=utf-8\r\n"
    text += "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n"
    if error.status == 426 { text += "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" }
    text += "\r\n" + body
    return Array(text.utf8)
  }

  /// A key is 16 bytes in standard base64: exactly 24 characters of the base64 alphabet, the
  /// last two `==`. Checked by hand first because nettle's decoder skips whitespace.
  static func isCanonicalKey(_ key: String) -> Bool {
    let bytes = Array(key.utf8)
    guard bytes.count == 24, bytes[22] == UInt8(ascii: "="), bytes[23] == UInt8(ascii: "=") else { return false }
    let alphabet = bytes[0..<22].allSatisfy { b in
      (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2B || b == 0x2F
    }
    return alphabet && decodedLength(key) == 16
  }

  /// The number of bytes `text` decodes to as standard, padded base64; nil if it is not that.
  static func decodedLength(_ text: String) -> Int? {
    let bytes = Array(text.utf8)
    guard !bytes.isEmpty, bytes.count % 4 == 0, bytes.count <= 1024 else { return nil }
    var context = base64_decode_ctx()
    nettle_base64_decode_init(&context)
    var out = [UInt8](repeating: 0, count: bytes.count / 4 * 3)
    var length = out.count
    let ok = out.withUnsafeMutableBufferPointer { dst in
      bytes.withUnsafeBufferPointer { src in
        nettle_base64_decode_update(&context, &length, dst.baseAddress, src.count, src.baseAddress) == 1
          && nettle_base64_decode_final(&context) == 1
      }
    }
    return ok ? length : nil
  }
}
