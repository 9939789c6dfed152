import CSodium

/// 32 secret bytes in libsodium's guarded memory: locked out of swap, fenced by guard pages,
/// and wiped when the key is released. Compared and copied only through libsodium.
final class SecretKey: @unchecked Sendable {
  static let count = 32
  let bytes: UnsafeMutablePointer<UInt8>

  /// A copy of `raw`, or nil unless it is exactly 32 bytes (or guarded memory ran out).
  init?(_ raw: UnsafeRawBufferPointer) {
    guard raw.count == Self.count, let base = raw.baseAddress, sodium_init() >= 0,
      let memory = sodium_malloc(Self.count)
    else { return nil }
    bytes = memory.bindMemory(to: UInt8.self, capacity: Self.count)
    bytes.update(from: base.assumingMemoryBound(to: UInt8.self), count: Self.count)
  }

  /// A key filled by `fill` (which writes 32 bytes), or nil when guarded memory ran out.
  init?(filling fill: (UnsafeMutablePointer<UInt8>) -> Void) {
    guard sodium_init() >= 0, let memory = sodium_malloc(Self.count) else { return nil }
    bytes = memory.bindMemory(to: UInt8.self, capacity: Self.count)
    fill(bytes)
  }

  deinit { sodium_free(bytes) }
}
