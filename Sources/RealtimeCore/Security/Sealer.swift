import CSodium

/// Authenticated encryption of payloads with XChaCha20-Poly1305 (IETF), under a subkey of the
/// keyring's current master key. The associated data binds where the payload belongs — its
/// purpose, name (channel, document, host context), position (offset, seq) and the caller's own
/// data — with the key id and format version, so a ciphertext moved to another row, channel or
/// key fails to open. Tampering is an error, never plaintext.
///
/// ```
/// sealed = version:u8 (= 1)  key_id:u32le  nonce:24 bytes  ciphertext:(plaintext length + 16)
/// ad     = "rtseal" version key_id:u32le purpose:u8 name_length:u32le name position:u64le extra
/// ```
public enum Sealer {
  public static let version: UInt8 = 1
  static let headerBytes = 1 + 4 + 24
  static let tagBytes = 16
  /// Bytes a sealed payload has beyond its plaintext.
  public static let overhead = headerBytes + tagBytes
  /// Largest plaintext sealed or opened (the store's largest value).
  public static let maxPlaintext = 256 << 20
  /// Longest name bound into the associated data.
  public static let maxName = 1024

  /// Appends `plaintext` sealed for (`purpose`, `name`, `position`, `extra`) to `out`.
  public static func seal(
    _ plaintext: UnsafeRawBufferPointer, purpose: SealPurpose, name: some Collection<UInt8>, position: UInt64 = 0,
    extra: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0), keyring: Keyring,
    into out: inout [UInt8]
  ) throws(RealtimeError) {
    guard plaintext.count <= maxPlaintext else {
      throw RealtimeError(.tooLarge, "a payload of \(plaintext.count) bytes exceeds \(maxPlaintext) to seal")
    }
    try checkName(name)
    try keyring.withSubkey(purpose, name, keyID: nil) { keyID, key throws(RealtimeError) in
      let ad = associatedData(keyID: keyID, purpose: purpose, name: name, position: position, extra: extra)
      let start = out.count
      out.append(version)
      withUnsafeBytes(of: keyID.littleEndian) { out.append(contentsOf: $0) }
      out.append(contentsOf: repeatElement(0, count: 24 + plaintext.count + tagBytes))
      out.withUnsafeMutableBufferPointer { buffer in
        guard let base = buffer.baseAddress else { return }
        let nonce = base + start + 5
        randombytes_buf(nonce, 24)
        var written: UInt64 = 0
        _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
          nonce + 24, &written, plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self),
          UInt64(plaintext.count), ad, UInt64(ad.count), nil, nonce, key)
      }
    }
  }

  /// Appends the plaintext of `sealed`, sealed for (`purpose`, `name`, `position`, `extra`), to
  /// `out`. Throws, appending nothing: `.corrupt` for bytes that do not open (tampered, cut
  /// short, or sealed for another place), `.notFound` for a key id the keyring lacks,
  /// `.version` for an unknown format.
  public static func open(
    _ sealed: UnsafeRawBufferPointer, purpose: SealPurpose, name: some Collection<UInt8>, position: UInt64 = 0,
    extra: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0), keyring: Keyring,
    into out: inout [UInt8]
  ) throws(RealtimeError) {
    guard sealed.count >= overhead else {
      throw RealtimeError(.corrupt, "a sealed payload has at least \(overhead) bytes; this one has \(sealed.count)")
    }
    guard sealed[0] == version else {
      throw RealtimeError(.version, "sealed payload format \(sealed[0]) is not one this library opens (\(version))")
    }
    guard sealed.count - overhead <= maxPlaintext else {
      throw RealtimeError(.tooLarge, "a sealed payload of \(sealed.count) bytes exceeds the limit")
    }
    try checkName(name)
    let keyID = UInt32(littleEndian: sealed.loadUnaligned(fromByteOffset: 1, as: UInt32.self))
    try keyring.withSubkey(purpose, name, keyID: keyID) { keyID, key throws(RealtimeError) in
      let ad = associatedData(keyID: keyID, purpose: purpose, name: name, position: position, extra: extra)
      let length = sealed.count - overhead
      let start = out.count
      out.append(contentsOf: repeatElement(0, count: length))
      let opened = out.withUnsafeMutableBufferPointer { buffer -> Bool in
        guard let source = sealed.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
        var written: UInt64 = 0
        return crypto_aead_xchacha20poly1305_ietf_decrypt(
          buffer.baseAddress.map { $0 + start }, &written, nil, source + headerBytes,
          UInt64(length + tagBytes), ad, UInt64(ad.count), source + 5, key) == 0
      }
      guard opened else {
        out.removeSubrange(start...)
        throw RealtimeError(.corrupt, "the sealed payload does not open: tampered with, or sealed for another place")
      }
    }
  }

  private static func checkName(_ name: some Collection<UInt8>) throws(RealtimeError) {
    guard name.count <= maxName else {
      throw RealtimeError(.invalidArgument, "a seal name of \(name.count) bytes exceeds \(maxName)")
    }
  }

  static func associatedData(
    keyID: UInt32, purpose: SealPurpose, name: some Collection<UInt8>, position: UInt64,
    extra: UnsafeRawBufferPointer
  ) -> [UInt8] {
    var ad: [UInt8] = []
    ad.reserveCapacity(6 + 1 + 4 + 1 + 4 + name.count + 8 + extra.count)
    ad.append(contentsOf: "rtseal".utf8)
    ad.append(version)
    withUnsafeBytes(of: keyID.littleEndian) { ad.append(contentsOf: $0) }
    ad.append(purpose.rawValue)
    withUnsafeBytes(of: UInt32(name.count).littleEndian) { ad.append(contentsOf: $0) }
    ad.append(contentsOf: name)
    withUnsafeBytes(of: position.littleEndian) { ad.append(contentsOf: $0) }
    ad.append(contentsOf: extra)
    return ad
  }
}
