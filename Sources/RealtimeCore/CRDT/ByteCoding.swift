/// Appends the pieces of the CRDT encodings: bytes, LEB128 varints, length-prefixed data.
struct ByteWriter {
  var out: [UInt8] = []

  mutating func byte(_ b: UInt8) { out.append(b) }

  mutating func varint(_ value: UInt64) {
    var v = value
    while v >= 0x80 {
      out.append(UInt8(truncatingIfNeeded: v) | 0x80)
      v >>= 7
    }
    out.append(UInt8(v))
  }

  /// Eight bytes, little-endian: for random ids, which a varint would only lengthen.
  mutating func fixed64(_ value: UInt64) {
    for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
  }

  mutating func bytes(_ b: [UInt8]) {
    varint(UInt64(b.count))
    out += b
  }
}

/// Reads the pieces of the CRDT encodings, every length checked against what is left; any fault
/// is a `.corrupt` error naming `what` was being read and where.
struct ByteReader {
  let bytes: [UInt8]
  let what: String
  var at = 0

  init(_ bytes: [UInt8], what: String) {
    self.bytes = bytes
    self.what = what
  }

  var atEnd: Bool { at == bytes.count }
  var remaining: Int { bytes.count - at }

  func fault(_ problem: String) -> RealtimeError {
    RealtimeError(.corrupt, "invalid \(what) at byte \(at): \(problem)")
  }

  mutating func byte() throws(RealtimeError) -> UInt8 {
    guard at < bytes.count else { throw fault("cut short") }
    defer { at += 1 }
    return bytes[at]
  }

  mutating func varint() throws(RealtimeError) -> UInt64 {
    var value: UInt64 = 0
    var shift: UInt64 = 0
    while true {
      let b = try byte()
      guard shift < 64, shift < 63 || b <= 1 else { throw fault("varint too long") }
      // A last byte of 0 after others is an overlong form: the encodings are canonical.
      guard b != 0 || shift == 0 else { throw fault("overlong varint") }
      value |= UInt64(b & 0x7F) << shift
      if b & 0x80 == 0 { return value }
      shift += 7
    }
  }

  /// A varint no larger than `max`.
  mutating func varint(max: UInt64) throws(RealtimeError) -> UInt64 {
    let v = try varint()
    guard v <= max else { throw fault("value \(v) exceeds \(max)") }
    return v
  }

  mutating func fixed64() throws(RealtimeError) -> UInt64 {
    guard remaining >= 8 else { throw fault("cut short") }
    var v: UInt64 = 0
    for i in 0..<8 { v |= UInt64(bytes[at + i]) << UInt64(8 * i) }
    at += 8
    return v
  }

  /// A count of items, each at least one byte: bounded by `max` and by what is left.
  mutating func count(max: Int) throws(RealtimeError) -> Int {
    let n = try varint()
    guard n <= UInt64(max), n <= UInt64(remaining) else { throw fault("count \(n) too large") }
    return Int(n)
  }

  /// The range of the next `n` bytes (a length read before), which the reader skips.
  mutating func span(max: Int) throws(RealtimeError) -> Range<Int> {
    let n = try varint()
    guard n <= UInt64(max), n <= UInt64(remaining) else { throw fault("length \(n) too large") }
    defer { at += Int(n) }
    return at..<(at + Int(n))
  }

  mutating func data(max: Int) throws(RealtimeError) -> [UInt8] { Array(bytes[try span(max: max)]) }

  mutating func string(max: Int) throws(RealtimeError) -> String {
    let raw = try data(max: max)
    guard let text = String(validating: raw, as: UTF8.self) else { throw fault("text is not UTF-8") }
    return text
  }
}

func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
func unzigzag(_ v: UInt64) -> Int64 { Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1) }

/// Writes bytes through a pointer into space reserved beforehand (`appendBounded`): the hot
/// encoders write a few dozen bytes per edit, where `ByteWriter`'s per-byte uniqueness and
/// capacity checks would cost more than the encoding.
struct RawByteWriter {
  let base: UnsafeMutablePointer<UInt8>
  var at = 0

  @inline(__always) mutating func byte(_ b: UInt8) {
    base[at] = b
    at += 1
  }

  @inline(__always) mutating func varint(_ value: UInt64) {
    var v = value
    while v >= 0x80 {
      base[at] = UInt8(truncatingIfNeeded: v) | 0x80
      at += 1
      v >>= 7
    }
    base[at] = UInt8(truncatingIfNeeded: v)
    at += 1
  }

  mutating func fixed64(_ value: UInt64) {
    for shift in stride(from: 0, to: 64, by: 8) { byte(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
  }
}

extension Array where Element == UInt8 {
  /// Appends what `body` writes, at most `bound` bytes, staged in `scratch` (kept between calls
  /// so the hot path allocates nothing).
  mutating func appendBounded(_ bound: Int, scratch: inout [UInt8], _ body: (inout RawByteWriter) -> Void) {
    if scratch.count < bound { scratch = [UInt8](repeating: 0, count: Swift.max(bound, 2 * scratch.count)) }
    scratch.withUnsafeMutableBufferPointer { buffer in
      guard let base = buffer.baseAddress else { return }
      var w = RawByteWriter(base: base)
      body(&w)
      append(contentsOf: UnsafeBufferPointer(start: base, count: w.at))
    }
  }
}
