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
    let nameBytes = Array(name)
    let start = out.count
    out.append(contentsOf: repeatElement(0, count: plaintext.count + overhead))
    let result = nameBytes.withUnsafeBytes { name in
      out.withUnsafeMutableBytes { buffer in
        Result { () throws(RealtimeError) in
          try seal(
            plaintext, purpose: purpose, name: name, position: position, extra: extra, keyring: keyring,
            to: UnsafeMutableRawBufferPointer(rebasing: buffer[start...]))
        }
      }
    }
    if case .failure(let error) = result {
      out.removeSubrange(start...)
      throw error
    }
  }

  /// Seals `plaintext` into `out`, which must hold exactly `plaintext.count + overhead` bytes:
  /// the form without allocation, for callers that own the output buffer.
  public static func seal(
    _ plaintext: UnsafeRawBufferPointer, purpose: SealPurpose, name: UnsafeRawBufferPointer, position: UInt64,
    extra: UnsafeRawBufferPointer, keyring: Keyring, to out: UnsafeMutableRawBufferPointer
  ) throws(RealtimeError) {
    guard plaintext.count <= maxPlaintext else {
      throw RealtimeError(.tooLarge, "a payload of \(plaintext.count) bytes exceeds \(maxPlaintext) to seal")
    }
    guard out.count == plaintext.count + overhead, let base = out.baseAddress?.assumingMemoryBound(to: UInt8.self)
    else { throw RealtimeError(.invalidArgument, "the output must hold the payload plus \(overhead) bytes") }
    try checkName(name.count)
    try keyring.withSubkey(purpose, name, keyID: nil) { keyID, key throws(RealtimeError) in
      base[0] = version
      withUnsafeBytes(of: keyID.littleEndian) {
        UnsafeMutableRawPointer(base + 1).copyMemory(from: $0.baseAddress!, byteCount: 4)
      }
      let nonce = base + 5
      NonceSource.fill(nonce, count: 24)
      withAssociatedData(keyID: keyID, purpose: purpose, name: name, position: position, extra: extra) { ad in
        var written: UInt64 = 0
        _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
          nonce + 24, &written, plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self),
          UInt64(plaintext.count), ad.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(ad.count), nil, nonce,
          key)
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
    let length = try plaintextLength(sealed)
    let nameBytes = Array(name)
    let start = out.count
    out.append(contentsOf: repeatElement(0, count: length))
    let result = nameBytes.withUnsafeBytes { name in
      out.withUnsafeMutableBytes { buffer in
        Result { () throws(RealtimeError) in
          try open(
            sealed, purpose: purpose, name: name, position: position, extra: extra, keyring: keyring,
            to: UnsafeMutableRawBufferPointer(rebasing: buffer[start...]))
        }
      }
    }
    if case .failure(let error) = result {
      out.removeSubrange(start...)
      throw error
    }
  }

  /// The plaintext length of `sealed`, checking its size and format first.
  public static func plaintextLength(_ sealed: UnsafeRawBufferPointer) throws(RealtimeError) -> Int {
    guard sealed.count >= overhead else {
      throw RealtimeError(.corrupt, "a sealed payload has at least \(overhead) bytes; this one has \(sealed.count)")
    }
    guard sealed[0] == version else {
      throw RealtimeError(.version, "sealed payload format \(sealed[0]) is not one this library opens (\(version))")
    }
    guard sealed.count - overhead <= maxPlaintext else {
      throw RealtimeError(.tooLarge, "a sealed payload of \(sealed.count) bytes exceeds the limit")
    }
    return sealed.count - overhead
  }

  /// Opens `sealed` into `out`, which must hold exactly `plaintextLength(sealed)` bytes; on a
  /// refusal `out` is zeroed, so no unverified plaintext is left in it.
  public static func open(
    _ sealed: UnsafeRawBufferPointer, purpose: SealPurpose, name: UnsafeRawBufferPointer, position: UInt64,
    extra: UnsafeRawBufferPointer, keyring: Keyring, to out: UnsafeMutableRawBufferPointer
  ) throws(RealtimeError) {
    let length = try plaintextLength(sealed)
    guard out.count == length, let source = sealed.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
      throw RealtimeError(.invalidArgument, "the output must hold the sealed payload less \(overhead) bytes")
    }
    try checkName(name.count)
    let keyID = UInt32(littleEndian: sealed.loadUnaligned(fromByteOffset: 1, as: UInt32.self))
    try keyring.withSubkey(purpose, name, keyID: keyID) { keyID, key throws(RealtimeError) in
      let opened = withAssociatedData(keyID: keyID, purpose: purpose, name: name, position: position, extra: extra) {
        ad -> Bool in
        var written: UInt64 = 0
        return crypto_aead_xchacha20poly1305_ietf_decrypt(
          out.baseAddress?.assumingMemoryBound(to: UInt8.self), &written, nil, source + headerBytes,
          UInt64(length + tagBytes), ad.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(ad.count),
          source + 5, key) == 0
      }
      guard opened else {
        if let base = out.baseAddress { sodium_memzero(base, out.count) }
        throw RealtimeError(.corrupt, "the sealed payload does not open: tampered with, or sealed for another place")
      }
    }
  }

  private static func checkName(_ count: Int) throws(RealtimeError) {
    guard count <= maxName else {
      throw RealtimeError(.invalidArgument, "a seal name of \(count) bytes exceeds \(maxName)")
    }
  }

  /// Runs `body` with the associated data laid out on the stack (a heap buffer past 2 KiB).
  static func withAssociatedData<R>(
    keyID: UInt32, purpose: SealPurpose, name: UnsafeRawBufferPointer, position: UInt64,
    extra: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R
  ) -> R {
    let count = 6 + 1 + 4 + 1 + 4 + name.count + 8 + extra.count
    return withUnsafeTemporaryAllocation(byteCount: count, alignment: 1) { ad in
      var at = 0
      func put(_ bytes: UnsafeRawBufferPointer) {
        if let source = bytes.baseAddress, bytes.count > 0 {
          (ad.baseAddress! + at).copyMemory(from: source, byteCount: bytes.count)
        }
        at += bytes.count
      }
      ad[0] = 0x72  // "rtseal"
      ad[1] = 0x74
      ad[2] = 0x73
      ad[3] = 0x65
      ad[4] = 0x61
      ad[5] = 0x6C
      ad[6] = version
      at = 7
      withUnsafeBytes(of: keyID.littleEndian) { put($0) }
      withUnsafeBytes(of: purpose.rawValue) { put($0) }
      withUnsafeBytes(of: UInt32(name.count).littleEndian) { put($0) }
      put(name)
      withUnsafeBytes(of: position.littleEndian) { put($0) }
      put(extra)
      return body(UnsafeRawBufferPointer(ad))
    }
  }
}
