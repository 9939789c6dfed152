extension FuzzEntry {
  /// The fuzz target's keyring: key 1 (bytes of 7) held and current; key 2 not held.
  static let sealedRowKeys: AtRestKeys? = {
    let keyring = Keyring()
    guard (try? keyring.add(id: 1, key: [UInt8](repeating: 7, count: 32))) != nil else { return nil }
    return AtRestKeys(keyring: keyring, holdsSealedRows: true)
  }()

  /// Feeds `bytes` as a stored row, the way a damaged or tampered database would: byte 0 picks
  /// the `key_id` column (0 plaintext, 1 the held key, 2 a key not held, 3 end-to-end, else an
  /// impossible value), byte 1 the place (entry, update, snapshot at a position from its bits, or
  /// chunk), the rest is the payload; then as an end-to-end publication. Returns -2 when an
  /// invariant broke: a plaintext or end-to-end row did not come back unchanged, a sealed row
  /// opened (forging one would need the key), a payload sealed for its place did not open back
  /// to itself or opened for another place, or the end-to-end check disagreed with its rules.
  /// Otherwise 1 when the row opened.
  public static func sealedRow(_ bytes: UnsafeRawBufferPointer) -> Int {
    guard let keys = sealedRowKeys else { return -2 }
    guard bytes.count >= 2 else { return 0 }
    let keyID: Int64 =
      switch bytes[0] {
      case 0: AtRest.plaintext
      case 1: 1
      case 2: 2
      case 3: AtRest.endToEnd
      default: Int64(Int8(bitPattern: bytes[0])) << 33
      }
    let position = Int64(bytes[1] >> 2)
    let place: AtRest.Place =
      switch bytes[1] & 3 {
      case 0: .entry("fuzz", position)
      case 1: .update("fuzz", position)
      case 2: .snapshot("fuzz", position)
      default: .chunk([UInt8](repeating: bytes[1], count: ChunkLimits.hashBytes))
      }
    let payload = Array(bytes[2...])
    var outcome = 0
    if let opened = try? AtRest.open(payload, keyID: keyID, for: place, keyring: keys.keyring) {
      guard keyID == AtRest.plaintext || keyID == AtRest.endToEnd, opened == payload else { return -2 }
      outcome = 1
    }
    guard let (sealed, sealedWith) = try? AtRest.seal(payload, for: place, keys: keys), sealedWith == 1,
      (try? AtRest.open(sealed, keyID: 1, for: place, keyring: keys.keyring)) == payload
    else { return -2 }
    let elsewhere = AtRest.Place(
      purpose: place.purpose, name: place.name, position: place.position &+ 1, extra: place.extra)
    if (try? AtRest.open(sealed, keyID: 1, for: elsewhere, keyring: keys.keyring)) != nil { return -2 }
    let accepted = (try? EndToEnd.check(payload, dataIsJSON: false, channel: "e2e:fuzz")) != nil
    let expected = payload.count >= 1 + EndToEnd.minSealedBytes && payload.first == EndToEnd.version
    guard accepted == expected else { return -2 }
    return outcome
  }
}
