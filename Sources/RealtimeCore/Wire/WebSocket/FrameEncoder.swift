/// Writes server frames (unmasked, RFC 6455 §5.2): a broadcast is encoded once with these and
/// the same bytes go to every recipient.
enum FrameEncoder {
  /// Bytes of the header for a payload of `length` bytes.
  static func headerLength(payload length: Int) -> Int {
    length < 126 ? 2 : length <= 0xFFFF ? 4 : 10
  }

  /// Appends one final frame with `payload` to `out`.
  static func append(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer, to out: inout [UInt8]) {
    encoded(opcode, payload).withUnsafeBytes { out.append(contentsOf: $0) }
  }

  /// One final frame, encoded straight into a shareable buffer (header and payload, one
  /// allocation): what a broadcast hands to every recipient.
  static func encoded(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) -> OutboundBytes {
    let header = headerLength(payload: payload.count)
    return OutboundBytes(count: header + payload.count) { out in
      writeHeader(opcode, length: payload.count, into: out)
      let n = payload.count
      if n > 0, let source = payload.baseAddress, let target = out.baseAddress {
        (target + header).copyMemory(from: source, byteCount: n)
      }
    }
  }

  /// Only the header of a final frame whose `length` payload bytes follow in other buffers (a
  /// frame written as several shared pieces).
  static func header(_ opcode: Opcode, length: Int) -> OutboundBytes {
    OutboundBytes(count: headerLength(payload: length)) { writeHeader(opcode, length: length, into: $0) }
  }

  private static func writeHeader(_ opcode: Opcode, length n: Int, into out: UnsafeMutableRawBufferPointer) {
    out[0] = 0x80 | opcode.rawValue
    if n < 126 {
      out[1] = UInt8(n)
    } else if n <= 0xFFFF {
      out[1] = 126
      out[2] = UInt8(n >> 8)
      out[3] = UInt8(n & 0xFF)
    } else {
      out[1] = 127
      for k in 0..<8 { out[2 + k] = UInt8(truncatingIfNeeded: UInt64(n) >> UInt64(56 - 8 * k)) }
    }
  }

  /// One final frame as its own buffer.
  static func frame(_ opcode: Opcode, _ payload: [UInt8]) -> [UInt8] {
    payload.withUnsafeBytes { encoded(opcode, $0) }.bytes
  }

  /// A close frame with `code` and a reason cut to fit the 125-byte control limit (at a UTF-8
  /// boundary, so the reason stays valid text).
  static func close(_ code: CloseCode, reason: String = "") -> [UInt8] {
    frame(.close, closePayload(code, reason: reason))
  }

  /// The same close frame in a shareable buffer.
  static func encodedClose(_ code: CloseCode, reason: String = "") -> OutboundBytes {
    closePayload(code, reason: reason).withUnsafeBytes { encoded(.close, $0) }
  }

  private static func closePayload(_ code: CloseCode, reason: String) -> [UInt8] {
    var cut = Array(reason.utf8.prefix(123))
    while !cut.isEmpty, !cut.withUnsafeBytes({ UTF8Validator.isValid($0) }) { cut.removeLast() }
    return [UInt8(code.rawValue >> 8), UInt8(code.rawValue & 0xFF)] + cut
  }
}
