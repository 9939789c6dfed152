import Testing

@testable import RealtimeCore

#if canImport(Glibc)
  import Glibc
#endif

/// Sealing at rest and for hosts: payloads round-trip, and every change — a flipped bit
/// anywhere, another place (purpose, name, position, associated data), an unknown or removed
/// key — is refused without plaintext. Keys rotate: new payloads take the new key id, old ones
/// still open.
@Suite struct SealerTests {
  private func keyring(_ ids: [UInt32] = [1]) throws -> Keyring {
    let ring = Keyring()
    for id in ids { try ring.add(id: id, key: (0..<32).map { UInt8(truncatingIfNeeded: Int(id) &* 31 &+ $0) }) }
    return ring
  }

  private func seal(_ text: [UInt8], _ ring: Keyring, name: String = "chat:room", position: UInt64 = 7) throws
    -> [UInt8]
  {
    var out: [UInt8] = []
    try text.withUnsafeBytes { raw in
      try Sealer.seal(raw, purpose: .channel, name: name.utf8, position: position, keyring: ring, into: &out)
    }
    return out
  }

  private func open(
    _ sealed: [UInt8], _ ring: Keyring, purpose: SealPurpose = .channel, name: String = "chat:room",
    position: UInt64 = 7, extra: [UInt8] = []
  ) throws -> [UInt8] {
    var out: [UInt8] = []
    try sealed.withUnsafeBytes { raw in
      try extra.withUnsafeBytes { ad in
        try Sealer.open(
          raw, purpose: purpose, name: name.utf8, position: position, extra: ad, keyring: ring, into: &out)
      }
    }
    return out
  }

  @Test func payloadsRoundTripWithFreshNonces() throws {
    let ring = try keyring()
    let text = Array("hello, sealed world".utf8)
    let a = try seal(text, ring)
    let b = try seal(text, ring)
    #expect(a != b, "a fresh nonce each time")
    #expect(a.count == text.count + Sealer.overhead)
    #expect(try open(a, ring) == text)
    #expect(try open(try seal([], ring), ring) == [])
  }

  @Test func everyFlippedBitIsRefused() throws {
    let ring = try keyring()
    let sealed = try seal(Array(repeating: 0x41, count: 64), ring)
    for i in sealed.indices {
      for bit in [0, 3, 7] {
        var tampered = sealed
        tampered[i] ^= UInt8(1 << bit)
        #expect(throws: RealtimeError.self, "byte \(i) bit \(bit)") { try open(tampered, ring) }
      }
    }
    #expect(throws: RealtimeError.self) { try open(Array(sealed.dropLast()), ring) }
    #expect(throws: RealtimeError.self) { try open(Array(sealed.prefix(Sealer.overhead - 1)), ring) }
  }

  /// A ciphertext moved to another row, channel, purpose or context does not open.
  @Test func anotherPlaceIsRefused() throws {
    let ring = try keyring()
    let sealed = try seal(Array("secret".utf8), ring)
    #expect(try open(sealed, ring) == Array("secret".utf8))
    #expect(throws: RealtimeError.self) { try open(sealed, ring, position: 8) }
    #expect(throws: RealtimeError.self) { try open(sealed, ring, name: "chat:other") }
    #expect(throws: RealtimeError.self) { try open(sealed, ring, purpose: .document) }
    #expect(throws: RealtimeError.self) { try open(sealed, ring, extra: [1]) }
  }

  @Test func keysRotateAndUnknownKeysAreRefused() throws {
    let ring = try keyring([1])
    let old = try seal(Array("old".utf8), ring)
    try ring.add(id: 2, key: Array(repeating: 9, count: 32))
    try ring.use(id: 2)
    let new = try seal(Array("new".utf8), ring)
    #expect(new[1] == 2 && old[1] == 1, "the key id is in the header")
    #expect(try open(old, ring) == Array("old".utf8))
    #expect(try open(new, ring) == Array("new".utf8))
    #expect(throws: RealtimeError.self) { try ring.remove(id: 2) }
    try ring.remove(id: 1)
    #expect { try open(old, ring) } throws: { ($0 as? RealtimeError)?.code == .notFound }
    // The same id with other bytes is refused; a keyring without keys cannot seal.
    #expect(throws: RealtimeError.self) { try ring.add(id: 2, key: Array(repeating: 8, count: 32)) }
    #expect { try seal([1], Keyring()) } throws: { ($0 as? RealtimeError)?.code == .state }
    // Another keyring's key 2 does not open this one's payloads.
    let other = Keyring()
    try other.add(id: 2, key: Array(repeating: 7, count: 32))
    #expect { try open(new, other) } throws: { ($0 as? RealtimeError)?.code == .corrupt }
  }

  @Test func keyTextLoadsAndBadTextIsRefused() throws {
    let hex1 = String(repeating: "ab", count: 32)
    let hex3 = String(repeating: "0C", count: 32)
    let ring = Keyring()
    try ring.load(text: Array("# keys\n1:\(hex1)\n\n 3:\(hex3) \r\n".utf8), from: "test")
    #expect(ring.ids == [1, 3] && ring.currentID == 3)
    let lone = Keyring()
    try lone.load(text: Array(hex1.utf8), from: "test")
    #expect(lone.ids == [1])
    for bad in ["", "# nothing", "1:abc", "0:\(hex1)", "x:\(hex1)", "1:\(hex1)\n1:\(hex3)", String(hex1.dropLast())] {
      let ring = Keyring()
      #expect(throws: RealtimeError.self, "\(bad)") { try ring.load(text: Array(bad.utf8), from: "test") }
      #expect(ring.isEmpty)
    }
  }

  @Test func keyFilesReadableByOthersAreRefused() throws {
    let dir = try TempDir()
    let path = dir.file("keys")
    let text = "2:" + String(repeating: "11", count: 32) + "\n"
    let fd = creat(path, 0o644)
    #expect(fd >= 0)
    _ = text.withCString { write(fd, $0, strlen($0)) }
    close(fd)
    #expect { try Keyring().load(file: path) } throws: { ($0 as? RealtimeError)?.code == .forbidden }
    chmod(path, 0o600)
    let ring = Keyring()
    try ring.load(file: path)
    #expect(ring.currentID == 2)
    #expect { try Keyring().load(file: dir.file("missing")) } throws: { ($0 as? RealtimeError)?.code == .io }
  }

  @Test func sealedBoxesOpenOnlyWithTheirKeyPair() throws {
    let (pk, sk) = SealedBox.keyPair()
    let message = Array("for your eyes".utf8)
    let sealed = try message.withUnsafeBytes { try SealedBox.seal($0, to: pk) }
    #expect(sealed.count == message.count + SealedBox.overhead)
    #expect(try sealed.withUnsafeBytes { try SealedBox.open($0, publicKey: pk, secretKey: sk) } == message)
    var tampered = sealed
    tampered[tampered.count - 1] ^= 1
    #expect(throws: RealtimeError.self) {
      try tampered.withUnsafeBytes { try SealedBox.open($0, publicKey: pk, secretKey: sk) }
    }
    let (pk2, sk2) = SealedBox.keyPair()
    #expect(throws: RealtimeError.self) {
      try sealed.withUnsafeBytes { try SealedBox.open($0, publicKey: pk2, secretKey: sk2) }
    }
  }
}
