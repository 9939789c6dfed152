/// SipHash (Aumasson and Bernstein) with a 128-bit key: the keyed hash of rate-limit keys, so a
/// client cannot choose keys that collide in the table. SipHash-1-3 by default, the variant Rust
/// and Swift use for their hash tables; the rounds are parameters so the tests can check this code
/// against libsodium's SipHash-2-4. Hand-written because the libraries' versions cost more than
/// the whole rest of a limit check: libsodium's `crypto_shorthash` and the standard library's
/// `Hasher.combine(bytes:)` (byte-at-a-time buffering) each took about half of it
/// (`docs/benchmarks.md`, "Rate limiter").
struct SipHash {
  let k0: UInt64
  let k1: UInt64

  /// The hash of `bytes` with `compression` rounds per word and `finalization` rounds at the end.
  @inline(__always)
  func hash(_ bytes: UnsafeRawBufferPointer, compression: Int = 1, finalization: Int = 3) -> UInt64 {
    var v0: UInt64 = k0 ^ 0x736f_6d65_7073_6575
    var v1: UInt64 = k1 ^ 0x646f_7261_6e64_6f6d
    var v2: UInt64 = k0 ^ 0x6c79_6765_6e65_7261
    var v3: UInt64 = k1 ^ 0x7465_6462_7974_6573
    @inline(__always) func round() {
      v0 &+= v1
      v1 = v1.rotated(13) ^ v0
      v0 = v0.rotated(32)
      v2 &+= v3
      v3 = v3.rotated(16) ^ v2
      v0 &+= v3
      v3 = v3.rotated(21) ^ v0
      v2 &+= v1
      v1 = v1.rotated(17) ^ v2
      v2 = v2.rotated(32)
    }
    let count = bytes.count
    let words = count / 8
    for w in 0..<words {
      let m = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: w * 8, as: UInt64.self))
      v3 ^= m
      for _ in 0..<compression { round() }
      v0 ^= m
    }
    // The last 0-7 bytes, little-endian, under the length's low byte.
    var last = UInt64(truncatingIfNeeded: count) << 56
    for i in 0..<(count & 7) { last |= UInt64(bytes[words * 8 + i]) << (8 * UInt64(i)) }
    v3 ^= last
    for _ in 0..<compression { round() }
    v0 ^= last
    v2 ^= 0xff
    for _ in 0..<finalization { round() }
    return v0 ^ v1 ^ v2 ^ v3
  }
}

extension UInt64 {
  @inline(__always)
  fileprivate func rotated(_ n: UInt64) -> UInt64 { (self << n) | (self >> (64 - n)) }
}
