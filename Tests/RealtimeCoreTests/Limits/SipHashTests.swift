import CSodium
import Testing

@testable import RealtimeCore

/// The hand-written SipHash against libsodium's: with 2 compression and 4 finalization rounds it
/// must equal `crypto_shorthash` (SipHash-2-4) for every length and key, so SipHash-1-3 is the
/// same tested code with fewer rounds.
@Suite struct SipHashTests {
  @Test func matchesLibsodiumsSipHash24ForEveryLengthUpTo100() {
    _ = sodium_init()
    var rng = WireRNG(seed: 7)
    for length in 0...100 {
      for _ in 0..<20 {
        let key = (UInt64.random(in: .min ... .max, using: &rng), UInt64.random(in: .min ... .max, using: &rng))
        let input = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
        var keyBytes = withUnsafeBytes(of: key.0.littleEndian) { Array($0) }
        keyBytes += withUnsafeBytes(of: key.1.littleEndian) { Array($0) }
        var expected = [UInt8](repeating: 0, count: 8)
        _ = crypto_shorthash(&expected, input, UInt64(length), keyBytes)
        let ours = input.withUnsafeBytes {
          SipHash(k0: key.0, k1: key.1).hash($0, compression: 2, finalization: 4)
        }
        #expect(withUnsafeBytes(of: ours.littleEndian) { Array($0) } == expected, "length \(length)")
      }
    }
  }

  @Test func theKeyAndEveryByteChangeTheHash() {
    let hasher = SipHash(k0: 1, k1: 2)
    let base = Array("user:ada".utf8)
    let hash = base.withUnsafeBytes { hasher.hash($0) }
    for i in base.indices {
      var changed = base
      changed[i] ^= 1
      #expect(changed.withUnsafeBytes { hasher.hash($0) } != hash)
    }
    #expect(base.withUnsafeBytes { SipHash(k0: 1, k1: 3).hash($0) } != hash)
    #expect([UInt8]().withUnsafeBytes { hasher.hash($0) } != [0].withUnsafeBytes { hasher.hash($0) })
  }
}
