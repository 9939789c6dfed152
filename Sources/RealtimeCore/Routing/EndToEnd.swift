/// End-to-end namespaces (`NamespaceOptions.endToEnd`): clients seal their payloads with keys
/// the server never holds, and the core routes and stores the bytes untouched. The core cannot
/// tell ciphertext from anything else, so it checks only the envelope, which refuses what is
/// plainly not sealed (JSON, short or unversioned data) with a clear error:
///
/// ```
/// data = version:u8 (= 1)  sealed:(at least 40 bytes)
/// ```
///
/// `sealed` is the client's own: a nonce and XChaCha20-Poly1305 or `crypto_secretbox`
/// ciphertext (24 + 16 bytes beyond the plaintext at least), or a `crypto_box_seal` box (48).
/// The core never opens it; clients agree among themselves on which form they use.
public enum EndToEnd {
  /// The envelope version clients put first.
  public static let version: UInt8 = 1
  /// The fewest sealed bytes after the version: the smallest AEAD's nonce plus tag.
  public static let minSealedBytes = 24 + 16

  /// Throws `.invalidArgument` unless `data` is binary, starts with `version` and has at least
  /// `minSealedBytes` after it.
  static func check(_ data: [UInt8], dataIsJSON: Bool, channel: String) throws(RealtimeError) {
    guard !dataIsJSON else {
      throw RealtimeError(
        .invalidArgument,
        "channel \(channel) is end-to-end: publish the payload sealed by the client as binary data (data_b64), not JSON"
      )
    }
    guard data.count >= 1 + minSealedBytes else {
      throw RealtimeError(
        .invalidArgument,
        "channel \(channel) is end-to-end: sealed data is at least \(1 + minSealedBytes) bytes (version byte, nonce, tag); this is \(data.count)"
      )
    }
    guard data[0] == version else {
      throw RealtimeError(
        .invalidArgument,
        "channel \(channel) is end-to-end: sealed data starts with version byte \(version), not \(data[0])")
    }
  }
}
