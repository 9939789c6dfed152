import CSodium

/// Secret bytes (32 unless made with another length) in libsodium's guarded memory: locked out
/// of swap, fenced by guard pages, and wiped when the key is released. Compared and copied only
/// through libsodium.
final class SecretKey: @unchecked Sendable {
  static let count = 32
  let bytes: UnsafeMutablePointer<UInt8>
  /// How many bytes `bytes` holds.
  let length: Int

  /// A copy of `raw`, or nil unless it is exactly 32 bytes (or guarded memory ran out).
  init?(_ raw: UnsafeRawBufferPointer) {
    guard raw.count == Self.count, let base = raw.baseAddress, sodium_init() >= 0,
      let memory = sodium_malloc(Self.count)
    else { return nil }
    bytes = memory.bindMemory(to: UInt8.self, capacity: Self.count)
    length = Self.count
    bytes.update(from: base.assumingMemoryBound(to: UInt8.self), count: Self.count)
  }

  /// A key of `length` bytes (32 by default) filled by `fill`, which writes them all; nil when
  /// guarded memory ran out.
  init?(length: Int = SecretKey.count, filling fill: (UnsafeMutablePointer<UInt8>) -> Void) {
    guard length > 0, sodium_init() >= 0, let memory = sodium_malloc(length) else { return nil }
    bytes = memory.bindMemory(to: UInt8.self, capacity: length)
    self.length = length
    fill(bytes)
  }

  deinit { sodium_free(bytes) }
}
