import CSodium

/// PASETO version 4, `public` purpose (paseto-standard/paseto-spec, `docs/01-Protocol-Versions/
/// Version4.md`, "Sign" and "Verify"; `Common.md`, "PAE"): Ed25519 signatures (libsodium's
/// `crypto_sign_detached`) over the pre-authentication encoding of the header, message, footer
/// and implicit assertion.
///
/// ```
/// m2    = PAE("v4.public.", m, f, i)    PAE = LE64(count) || for each piece LE64(len) || piece
/// sig   = crypto_sign_detached(m2, sk)
/// token = "v4.public." base64url(m || sig) ["." base64url(f)]    (unpadded; no "." for an empty f)
/// ```
///
/// Decoding is strict: the exact header, canonical unpadded base64url consumed to the end (one
/// encoding per token), at least a signature's bytes. Nothing else — other versions, `local`
/// tokens, padding, stray dots, trailing junk — gets near a key.
enum PasetoV4 {
  static let header: StaticString = "v4.public."
  static let headerBytes = 10
  static let signatureBytes = Int(crypto_sign_BYTES)
  static let publicKeyBytes = Int(crypto_sign_PUBLICKEYBYTES)
  static let secretKeyBytes = Int(crypto_sign_SECRETKEYBYTES)
  static let seedBytes = Int(crypto_sign_SEEDBYTES)

  /// A token's parts, decoded but not yet verified.
  struct Decoded {
    /// The message (claims), before the signature.
    var message: [UInt8]
    var signature: [UInt8]
    /// The footer (empty when the token has none). Unauthenticated until `verify` passes.
    var footer: [UInt8]
  }

  /// PAE: the count of `pieces`, then each one's length and bytes, lengths as 64-bit
  /// little-endian with the top bit clear.
  static func pae(_ pieces: [UnsafeRawBufferPointer]) -> [UInt8] {
    var out = [UInt8]()
    out.reserveCapacity(8 + pieces.reduce(0) { $0 + 8 + $1.count })
    func le64(_ n: Int) {
      let v = UInt64(n) & 0x7FFF_FFFF_FFFF_FFFF
      for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }
    le64(pieces.count)
    for piece in pieces {
      le64(piece.count)
      out.append(contentsOf: piece)
    }
    return out
  }

  /// The PAE that is signed: header, message, footer, implicit assertion.
  static func preAuth(message: [UInt8], footer: [UInt8], implicit: [UInt8]) -> [UInt8] {
    let h = UnsafeRawBufferPointer(start: header.utf8Start, count: headerBytes)
    return message.withUnsafeBytes { m in
      footer.withUnsafeBytes { f in implicit.withUnsafeBytes { i in pae([h, m, f, i]) } }
    }
  }

  /// Signs `message` with `footer` and `implicit` under the 64-byte libsodium secret key at
  /// `secretKey`.
  static func sign(message: [UInt8], footer: [UInt8], implicit: [UInt8], secretKey: UnsafePointer<UInt8>) -> String {
    let m2 = preAuth(message: message, footer: footer, implicit: implicit)
    var signature = [UInt8](repeating: 0, count: signatureBytes)
    _ = crypto_sign_detached(&signature, nil, m2, UInt64(m2.count), secretKey)
    var token = "v4.public." + base64url(message + signature)
    if !footer.isEmpty { token += "." + base64url(footer) }
    return token
  }

  /// Whether `decoded`'s signature verifies under `publicKey` (32 bytes) with `implicit`.
  static func verify(_ decoded: Decoded, implicit: [UInt8], publicKey: [UInt8]) -> Bool {
    guard publicKey.count == publicKeyBytes, decoded.signature.count == signatureBytes else { return false }
    let m2 = preAuth(message: decoded.message, footer: decoded.footer, implicit: implicit)
    return crypto_sign_verify_detached(decoded.signature, m2, UInt64(m2.count), publicKey) == 0
  }

  /// Splits and decodes `token`. Throws `.corrupt` saying why it is not a v4.public token.
  static func decode(_ token: UnsafeRawBufferPointer) throws(RealtimeError) -> Decoded {
    let h = UnsafeRawBufferPointer(start: header.utf8Start, count: headerBytes)
    guard token.count > headerBytes, token.prefix(headerBytes).elementsEqual(h) else {
      throw RealtimeError(.corrupt, "not a v4.public token: \(describeHeader(token))")
    }
    let rest = UnsafeRawBufferPointer(rebasing: token[headerBytes...])
    let dot = rest.firstIndex(of: UInt8(ascii: "."))
    let body = UnsafeRawBufferPointer(rebasing: rest[..<(dot ?? rest.count)])
    var footer: [UInt8] = []
    if let dot {
      let encoded = UnsafeRawBufferPointer(rebasing: rest[(dot + 1)...])
      guard !encoded.isEmpty else {
        throw RealtimeError(.corrupt, "a token ending in '.' (an empty footer has no dot)")
      }
      guard !encoded.contains(UInt8(ascii: ".")) else {
        throw RealtimeError(.corrupt, "a token with more than 4 parts")
      }
      guard let bytes = fromBase64url(encoded) else {
        throw RealtimeError(.corrupt, "the token's footer is not unpadded base64url")
      }
      footer = bytes
    }
    guard let payload = fromBase64url(body) else {
      throw RealtimeError(.corrupt, "the token's payload is not unpadded base64url")
    }
    guard payload.count >= signatureBytes else {
      throw RealtimeError(
        .corrupt, "the token's payload has \(payload.count) bytes, less than a \(signatureBytes)-byte signature")
    }
    return Decoded(
      message: Array(payload[..<(payload.count - signatureBytes)]),
      signature: Array(payload[(payload.count - signatureBytes)...]), footer: footer)
  }

  /// What the start of a refused token looks like, for the error message.
  private static func describeHeader(_ token: UnsafeRawBufferPointer) -> String {
    func starts(_ s: String) -> Bool { token.starts(with: s.utf8) }
    if starts("v4.public.") { return "nothing after the header" }
    if starts("v4.local.") { return "a v4.local (shared-key) token; only v4.public is accepted" }
    for v in ["v1.", "v2.", "v3."] where starts(v) {
      return "a PASETO \(v.dropLast()) token; only v4.public is accepted"
    }
    if starts("v4.") { return "an unknown v4 purpose; only v4.public is accepted" }
    return "the header is not 'v4.public.'"
  }

  /// `bytes` as unpadded base64url.
  static func base64url(_ bytes: [UInt8]) -> String {
    let variant = Int32(sodium_base64_VARIANT_URLSAFE_NO_PADDING)
    let length = sodium_base64_encoded_len(bytes.count, variant)
    var out = [CChar](repeating: 0, count: length)
    _ = sodium_bin2base64(&out, length, bytes, bytes.count, variant)
    return out.withUnsafeBufferPointer { buffer in
      String(decoding: UnsafeRawBufferPointer(buffer).prefix(length - 1), as: UTF8.self)
    }
  }

  /// The bytes of canonical unpadded base64url `text`, every character consumed; nil otherwise
  /// (padding, other alphabets, spaces, non-zero leftover bits, an impossible length).
  ///
  /// The alphabet is checked here first: `sodium_base642bin` (libsodium 1.0.18) decodes every
  /// byte from 0x80 up as `_` (found by `fuzz-token`), which would give one token many
  /// encodings.
  static func fromBase64url(_ text: UnsafeRawBufferPointer) -> [UInt8]? {
    guard let base = text.baseAddress?.assumingMemoryBound(to: CChar.self), !text.isEmpty else { return nil }
    for c in text {
      guard (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x5F
      else { return nil }
    }
    var out = [UInt8](repeating: 0, count: text.count / 4 * 3 + 3)
    var written = 0
    var end: UnsafePointer<CChar>?
    let rc = sodium_base642bin(
      &out, out.count, base, text.count, nil, &written, &end, Int32(sodium_base64_VARIANT_URLSAFE_NO_PADDING))
    guard rc == 0, let end, end == base + text.count else { return nil }
    out.removeSubrange(written...)
    return out
  }
}
