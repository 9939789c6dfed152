/// Validates UTF-8 incrementally, so text split across WebSocket fragments (or TCP reads) is
/// checked as it arrives and rejected at the first byte that cannot be valid (RFC 6455 §8.1
/// asks for fail-fast). Rejects overlong forms, surrogates and code points above U+10FFFF.
struct UTF8Validator {
  /// Continuation bytes still expected for the current scalar.
  private var remaining: UInt8 = 0
  /// Allowed range of the next continuation byte (narrower right after E0, ED, F0, F4).
  private var low: UInt8 = 0x80
  private var high: UInt8 = 0xBF

  init() {}

  /// True when the bytes seen so far end on a scalar boundary.
  var isComplete: Bool { remaining == 0 }

  /// Feeds more bytes; false as soon as they cannot be part of valid UTF-8.
  mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
    var i = 0
    let count = bytes.count
    while i < count {
      if remaining == 0 {
        // ASCII fast path: 8 bytes at a time while no high bit is set.
        while i + 8 <= count && bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
          i += 8
        }
        guard i < count else { return true }
      }
      let byte = bytes[i]
      i += 1
      if remaining > 0 {
        guard byte >= low && byte <= high else { return false }
        remaining -= 1
        low = 0x80
        high = 0xBF
        continue
      }
      switch byte {
      case 0x00...0x7F: continue
      case 0xC2...0xDF: remaining = 1
      case 0xE0:
        remaining = 2
        low = 0xA0
      case 0xE1...0xEC, 0xEE...0xEF: remaining = 2
      case 0xED:
        remaining = 2
        high = 0x9F
      case 0xF0:
        remaining = 3
        low = 0x90
      case 0xF1...0xF3: remaining = 3
      case 0xF4:
        remaining = 3
        high = 0x8F
      default: return false  // 80...C1 (continuation or overlong lead), F5...FF
      }
    }
    return true
  }

  /// Validates a complete buffer.
  static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
    var validator = UTF8Validator()
    return validator.feed(bytes) && validator.isComplete
  }
}
