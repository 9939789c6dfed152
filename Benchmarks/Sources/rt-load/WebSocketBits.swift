// The client side of RFC 6455 that rt-load needs: the handshake key and its expected accept
// value (base64, SHA-1), masked client frames, an incremental parser of server frames, and the
// few JSON bits of the server's application protocol (connect and ping messages, the "type" of a
// reply).

/// Standard base64 (RFC 4648 §4, with padding).
func base64(_ bytes: [UInt8]) -> String {
  let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
  var out: [UInt8] = []
  out.reserveCapacity((bytes.count + 2) / 3 * 4)
  var i = 0
  while i + 3 <= bytes.count {
    let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
    out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)], table[Int(n & 63)]]
    i += 3
  }
  let rest = bytes.count - i
  if rest == 1 {
    let n = UInt32(bytes[i]) << 16
    out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], 61, 61]
  } else if rest == 2 {
    let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
    out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)], 61]
  }
  return String(decoding: out, as: UTF8.self)
}

/// SHA-1 (FIPS 180-4), only for Sec-WebSocket-Accept.
func sha1(_ message: [UInt8]) -> [UInt8] {
  var h: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
  var data = message
  let bitLength = UInt64(message.count) * 8
  data.append(0x80)
  while data.count % 64 != 56 { data.append(0) }
  for shift in stride(from: 56, through: 0, by: -8) {
    data.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
  }
  var w = [UInt32](repeating: 0, count: 80)
  for chunk in stride(from: 0, to: data.count, by: 64) {
    for t in 0..<16 {
      let j = chunk + t * 4
      w[t] = UInt32(data[j]) << 24 | UInt32(data[j + 1]) << 16 | UInt32(data[j + 2]) << 8 | UInt32(data[j + 3])
    }
    for t in 16..<80 {
      let x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]
      w[t] = x << 1 | x >> 31
    }
    var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
    for t in 0..<80 {
      let f: UInt32
      let k: UInt32
      switch t {
      case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A82_7999)
      case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9_EBA1)
      case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
      default: (f, k) = (b ^ c ^ d, 0xCA62_C1D6)
      }
      let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[t]
      (e, d, c, b, a) = (d, c, b << 30 | b >> 2, a, temp)
    }
    h[0] &+= a
    h[1] &+= b
    h[2] &+= c
    h[3] &+= d
    h[4] &+= e
  }
  var out: [UInt8] = []
  for v in h { out += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
  return out
}

func acceptValue(forKey key: String) -> String {
  base64(sha1(Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8)))
}

func randomBytes(_ count: Int) -> [UInt8] {
  var g = SystemRandomNumberGenerator()
  return (0..<count).map { _ in UInt8.random(in: 0...255, using: &g) }
}

/// A masked client frame (FIN set) with a fresh random 4-byte mask (RFC 6455 §5.2, §5.3): 7-bit
/// length up to 125, then 126 + 16-bit, then 127 + 64-bit, all big-endian.
func maskedFrame(opcode: UInt8, payload: [UInt8]) -> [UInt8] {
  let n = payload.count
  var frame: [UInt8] = [0x80 | opcode]
  frame.reserveCapacity(14 + n)
  if n < 126 {
    frame.append(0x80 | UInt8(n))
  } else if n <= 0xFFFF {
    frame += [0x80 | 126, UInt8(n >> 8), UInt8(n & 0xFF)]
  } else {
    frame.append(0x80 | 127)
    for shift in stride(from: 56, through: 0, by: -8) {
      frame.append(UInt8(truncatingIfNeeded: UInt64(n) >> UInt64(shift)))
    }
  }
  var g = SystemRandomNumberGenerator()
  let mask = g.next() as UInt32
  let m = [UInt8(mask >> 24), UInt8(mask >> 16 & 0xFF), UInt8(mask >> 8 & 0xFF), UInt8(mask & 0xFF)]
  frame += m
  for (i, b) in payload.enumerated() { frame.append(b ^ m[i & 3]) }
  return frame
}

/// Where one server frame lies in a buffer: its payload is `payloadStart..<end`.
struct ServerFrameHeader {
  var fin: Bool
  var opcode: UInt8
  var payloadStart: Int
  var end: Int
}

enum FrameError: Error { case masked, reservedBits, tooLong, badControlFrame }

/// The largest server frame payload, and the largest message reassembled from fragments, that
/// rt-load accepts (its own messages are at most 64 KiB plus the JSON around them).
let maxServerMessageBytes = 1 << 20

/// The server frame starting at `start` in `buffer`, or nil when it is not all there yet.
/// Throws as soon as the header shows a frame rt-load will not accept.
func serverFrameHeader(_ buffer: UnsafeBufferPointer<UInt8>, at start: Int) throws(FrameError) -> ServerFrameHeader? {
  let available = buffer.count - start
  guard available >= 2 else { return nil }
  let b0 = buffer[start]
  let b1 = buffer[start + 1]
  if b0 & 0x70 != 0 { throw .reservedBits }
  if b1 & 0x80 != 0 { throw .masked }  // server frames are never masked (RFC 6455 §5.1)
  var length = UInt64(b1 & 0x7F)
  var offset = 2
  if length == 126 {
    guard available >= 4 else { return nil }
    length = UInt64(buffer[start + 2]) << 8 | UInt64(buffer[start + 3])
    offset = 4
  } else if length == 127 {
    guard available >= 10 else { return nil }
    length = 0
    for i in 2..<10 { length = length << 8 | UInt64(buffer[start + i]) }
    offset = 10
  }
  if length > UInt64(maxServerMessageBytes) { throw .tooLong }
  if b0 & 0x08 != 0 && (b0 & 0x80 == 0 || length > 125) { throw .badControlFrame }  // §5.5
  guard available >= offset + Int(length) else { return nil }
  return ServerFrameHeader(
    fin: b0 & 0x80 != 0, opcode: b0 & 0x0F, payloadStart: start + offset, end: start + offset + Int(length))
}

// MARK: application protocol (JSON text messages)

/// The first message of a client when the connect message is on.
let connectMessage = Array(#"{"type":"connect","v":1}"#.utf8)
let batchConnectMessage = Array(#"{"type":"connect","v":1,"batch":true}"#.utf8)

/// The message the echo scenario sends: `{"type":"ping","id":ID,"data":"` + data + `"}`.
func pingMessage(id: Int, data: [UInt8]) -> [UInt8] {
  var out = Array(#"{"type":"ping","id":"#.utf8)
  out.reserveCapacity(out.count + 20 + 10 + data.count)
  out += Array(String(id).utf8)
  out += Array(#","data":""#.utf8)
  out += data
  out += Array(#""}"#.utf8)
  return out
}

/// The string value of the first `"name": "..."` in a JSON text, without unescaping; nil when
/// there is none. A scan, not a parser: enough for the flat objects of the protocol.
func jsonStringField(_ text: [UInt8], _ name: String) -> String? {
  guard let (start, end) = jsonFieldValue(text, name), text[start] == UInt8(ascii: "\""), end - start >= 2 else {
    return nil
  }
  return String(decoding: text[(start + 1)..<(end - 1)], as: UTF8.self)
}

/// The integer value of the first `"name": N` in a JSON text; nil when there is none.
func jsonIntField(_ text: [UInt8], _ name: String) -> Int? {
  guard let (start, end) = jsonFieldValue(text, name) else { return nil }
  return Int(String(decoding: text[start..<end], as: UTF8.self))
}

/// The byte range of the value after the first key `"name"` (a string with its quotes, or a
/// bare token up to `,`, `}`, `]` or white space).
func jsonFieldValue(_ text: [UInt8], _ name: String) -> (Int, Int)? {
  let key = Array("\"\(name)\"".utf8)
  var from = 0
  while let found = findSubsequence(text, key, from: from) {
    var i = found + key.count
    from = found + 1
    while i < text.count && isJSONSpace(text[i]) { i += 1 }
    guard i < text.count, text[i] == UInt8(ascii: ":") else { continue }  // a value, not a key
    i += 1
    while i < text.count && isJSONSpace(text[i]) { i += 1 }
    guard i < text.count else { return nil }
    let start = i
    if text[i] == UInt8(ascii: "\"") {
      i += 1
      while i < text.count && text[i] != UInt8(ascii: "\"") { i += text[i] == UInt8(ascii: "\\") ? 2 : 1 }
      guard i < text.count else { return nil }
      return (start, i + 1)
    }
    while i < text.count && !isJSONSpace(text[i]) && !",}]".utf8.contains(text[i]) { i += 1 }
    return (start, i)
  }
  return nil
}

private func isJSONSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
