// Helpers shared by the wire codec suites: a seeded random generator, a client-frame builder
// that can write any header (including deliberately malformed ones), and ways to feed a
// FrameParser in pieces.
@testable import RealtimeCore

/// SplitMix64: small, fast and seedable, so a failing property case can be replayed.
struct WireRNG: RandomNumberGenerator {
  private var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  mutating func bytes(_ count: Int) -> [UInt8] {
    var out = [UInt8]()
    out.reserveCapacity(count)
    while out.count < count {
      var word = next()
      for _ in 0..<min(8, count - out.count) {
        out.append(UInt8(truncatingIfNeeded: word))
        word >>= 8
      }
    }
    return out
  }

  /// Valid UTF-8 of exactly `count` bytes, mixing 1-, 2-, 3- and 4-byte scalars.
  mutating func utf8Text(_ count: Int) -> [UInt8] {
    var out = [UInt8]()
    out.reserveCapacity(count)
    while out.count < count {
      let width = min(Int.random(in: 1...4, using: &self), count - out.count)
      switch width {
      case 1:
        out.append(UInt8.random(in: 0...0x7F, using: &self))
      case 2:
        let v = UInt32.random(in: 0x80...0x7FF, using: &self)
        out += [UInt8(0xC0 | v >> 6), UInt8(0x80 | v & 0x3F)]
      case 3:
        var v = UInt32.random(in: 0x800...0xFFFF, using: &self)
        if (0xD800...0xDFFF).contains(v) { v = 0xFFFD }
        out += [UInt8(0xE0 | v >> 12), UInt8(0x80 | v >> 6 & 0x3F), UInt8(0x80 | v & 0x3F)]
      default:
        let v = UInt32.random(in: 0x10000...0x10FFFF, using: &self)
        out += [
          UInt8(0xF0 | v >> 18), UInt8(0x80 | v >> 12 & 0x3F), UInt8(0x80 | v >> 6 & 0x3F), UInt8(0x80 | v & 0x3F),
        ]
      }
    }
    return out
  }
}

/// How a test frame writes its payload length.
enum FrameLength {
  /// The shortest form, as RFC 6455 requires.
  case minimal
  /// 126 and a 16-bit length, whatever the size.
  case sixteen
  /// 127 and a 64-bit length, whatever the size.
  case sixtyFour
}

enum TestFrame {
  static let opContinuation: UInt8 = 0x0
  static let opText: UInt8 = 0x1
  static let opBinary: UInt8 = 0x2
  static let opClose: UInt8 = 0x8
  static let opPing: UInt8 = 0x9
  static let opPong: UInt8 = 0xA

  static let defaultMask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]

  /// A frame as a client writes it: `mask` nil means unmasked. `rsv` is the 3 reserved bits
  /// (RSV1 = 4, RSV2 = 2, RSV3 = 1). `declaredLength` overrides the length written in the header
  /// (the payload is still appended as given).
  static func client(
    _ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0,
    mask: [UInt8]? = defaultMask, length: FrameLength = .minimal, declaredLength: UInt64? = nil
  ) -> [UInt8] {
    var out: [UInt8] = [(fin ? 0x80 : 0) | (rsv & 7) << 4 | (opcode & 0x0F)]
    let maskBit: UInt8 = mask == nil ? 0 : 0x80
    let n = declaredLength ?? UInt64(payload.count)
    let form: FrameLength =
      switch length {
      case .minimal: n < 126 ? .minimal : n <= 0xFFFF ? .sixteen : .sixtyFour
      default: length
      }
    switch form {
    case .minimal:
      out.append(maskBit | UInt8(n))
    case .sixteen:
      out.append(maskBit | 126)
      out.append(UInt8(truncatingIfNeeded: n >> 8))
      out.append(UInt8(truncatingIfNeeded: n))
    case .sixtyFour:
      out.append(maskBit | 127)
      for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: n >> UInt64(shift))) }
    }
    if let mask {
      precondition(mask.count == 4)
      out.append(contentsOf: mask)
      let start = out.count
      out.append(contentsOf: payload)
      out.withUnsafeMutableBufferPointer { buffer in
        for i in 0..<payload.count { buffer[start + i] ^= mask[i & 3] }
      }
    } else {
      out.append(contentsOf: payload)
    }
    return out
  }

  /// The 2-byte big-endian code followed by the reason, as a close payload.
  static func closePayload(_ code: UInt16, _ reason: [UInt8] = []) -> [UInt8] {
    [UInt8(code >> 8), UInt8(code & 0xFF)] + reason
  }
}

/// What feeding a parser produced: the events, and the error with the index of the chunk that
/// threw it (the parser is not fed after an error).
struct FeedResult {
  var events: [WebSocketEvent] = []
  var error: FrameError?
  var failedChunk: Int?

  var code: CloseCode? { error?.code }
}

/// Feeds `chunks` in order to `parser`, stopping at the first error.
func feedChunks(_ chunks: [[UInt8]], to parser: inout FrameParser) -> FeedResult {
  var result = FeedResult()
  for (index, chunk) in chunks.enumerated() {
    let failure: FrameError? = chunk.withUnsafeBytes { raw in
      do throws(FrameError) {
        try parser.feed(raw) { result.events.append($0) }
        return nil
      } catch {
        return error
      }
    }
    if let failure {
      result.error = failure
      result.failedChunk = index
      return result
    }
  }
  return result
}

/// Feeds `chunks` to a fresh parser.
func parseChunks(_ chunks: [[UInt8]], maxMessageBytes: Int = 1 << 20, expectMasked: Bool = true) -> FeedResult {
  var parser = FrameParser(maxMessageBytes: maxMessageBytes, expectMasked: expectMasked)
  return feedChunks(chunks, to: &parser)
}

/// Feeds `bytes` to a fresh parser in one piece.
func parseFrames(_ bytes: [UInt8], maxMessageBytes: Int = 1 << 20, expectMasked: Bool = true) -> FeedResult {
  parseChunks([bytes], maxMessageBytes: maxMessageBytes, expectMasked: expectMasked)
}

/// Feeds `bytes` one byte at a time.
func parseByteByByte(_ bytes: [UInt8], maxMessageBytes: Int = 1 << 20, expectMasked: Bool = true) -> FeedResult {
  parseChunks(bytes.map { [$0] }, maxMessageBytes: maxMessageBytes, expectMasked: expectMasked)
}

/// Feeds `stream` to a fresh parser in pieces ending at `ends` (ascending, the last being
/// `stream.count`), without copying the pieces.
func parseStream(_ stream: [UInt8], endingAt ends: [Int], maxMessageBytes: Int = 1 << 20) -> FeedResult {
  var parser = FrameParser(maxMessageBytes: maxMessageBytes)
  var result = FeedResult()
  stream.withUnsafeBytes { raw in
    var start = 0
    for (index, end) in ends.enumerated() {
      do throws(FrameError) {
        try parser.feed(UnsafeRawBufferPointer(rebasing: raw[start..<end])) { result.events.append($0) }
      } catch {
        result.error = error
        result.failedChunk = index
        return
      }
      start = end
    }
  }
  return result
}

/// Records what a session writes, as a socket would receive it.
final class RecordingTransport: SessionTransport {
  var written: [UInt8] = []
  var finished = false
  /// Every buffer handed over, to check that broadcasts are shared, not copied.
  var buffers: [ObjectIdentifier] = []
  func write(_ bytes: OutboundBytes) {
    precondition(!finished, "no write may follow finish()")
    written += bytes.bytes
    buffers.append(ObjectIdentifier(bytes))
  }
  func write(pieces: [OutboundBytes]) {
    for piece in pieces { write(piece) }
  }
  func finish() { finished = true }
  /// What the transport reports as not yet taken by the peer; tests set it to play a slow client.
  var backlogBytes = 0

  /// Takes what was written so far.
  func take() -> [UInt8] {
    defer { written = [] }
    return written
  }

  var text: String { String(decoding: written, as: UTF8.self) }
}

/// A masked client frame.
func clientFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, mask: [UInt8] = [1, 2, 3, 4]) -> [UInt8] {
  var out: [UInt8] = [(fin ? 0x80 : 0) | opcode]
  if payload.count < 126 {
    out.append(0x80 | UInt8(payload.count))
  } else {
    out.append(0x80 | 126)
    out += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
  }
  out += mask
  out += payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
  return out
}

func upgrade(path: String = "/ws", extra: String = "") -> [UInt8] {
  Array(
    ("GET \(path) HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
      + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\(extra)\r\n").utf8)
}

/// Decodes the server's (unmasked) frames from `bytes`.
func serverEvents(_ bytes: [UInt8]) throws -> [WebSocketEvent] {
  var parser = FrameParser(expectMasked: false)
  var events: [WebSocketEvent] = []
  try bytes.withUnsafeBytes { try parser.feed($0) { events.append($0) } }
  return events
}
