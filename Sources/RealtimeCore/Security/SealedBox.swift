import CSodium

/// Anonymous public-key encryption (libsodium sealed boxes: X25519, XSalsa20-Poly1305): anyone
/// with a recipient's public key seals; only the holder of the secret key opens. For end-to-end
/// payloads the core routes and stores without being able to read.
public enum SealedBox {
  public static let publicKeyBytes = 32
  public static let secretKeyBytes = 32
  /// Bytes a sealed box has beyond its message.
  public static let overhead = 48
  /// Largest message sealed or opened.
  public static let maxMessage = 256 << 20

  /// A fresh key pair: (public, secret).
  public static func keyPair() -> (publicKey: [UInt8], secretKey: [UInt8]) {
    _ = sodium_init()
    var pk = [UInt8](repeating: 0, count: publicKeyBytes)
    var sk = [UInt8](repeating: 0, count: secretKeyBytes)
    _ = crypto_box_keypair(&pk, &sk)
    return (pk, sk)
  }

  /// `message` sealed to `publicKey`. Throws `.invalidArgument` for a key that is not 32 bytes.
  public static func seal(_ message: UnsafeRawBufferPointer, to publicKey: [UInt8]) throws(RealtimeError) -> [UInt8] {
    guard publicKey.count == publicKeyBytes else {
      throw RealtimeError(.invalidArgument, "a public key is \(publicKeyBytes) bytes; this one has \(publicKey.count)")
    }
    guard message.count <= maxMessage else { throw RealtimeError(.tooLarge, "a message over \(maxMessage) bytes") }
    _ = sodium_init()
    var out = [UInt8](repeating: 0, count: message.count + overhead)
    let rc = crypto_box_seal(
      &out, message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count), publicKey)
    guard rc == 0 else { throw RealtimeError(.invalidArgument, "the public key is not a valid X25519 key") }
    return out
  }

  /// The message in `sealed`, opened with the recipient's key pair. Throws `.corrupt` for a box
  /// that does not open (tampered with, or sealed to another key).
  public static func open(_ sealed: UnsafeRawBufferPointer, publicKey: [UInt8], secretKey: [UInt8])
    throws(RealtimeError) -> [UInt8]
  {
    guard publicKey.count == publicKeyBytes, secretKey.count == secretKeyBytes else {
      throw RealtimeError(
        .invalidArgument, "a key pair is a \(publicKeyBytes)-byte public and a \(secretKeyBytes)-byte secret key")
    }
    guard sealed.count >= overhead else { throw RealtimeError(.corrupt, "a sealed box has at least \(overhead) bytes") }
    guard sealed.count - overhead <= maxMessage else { throw RealtimeError(.tooLarge, "a box over the limit") }
    guard let source = sealed.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
      throw RealtimeError(.corrupt, "a sealed box has at least \(overhead) bytes")
    }
    _ = sodium_init()
    var out = [UInt8](repeating: 0, count: sealed.count - overhead)
    let rc = crypto_box_seal_open(&out, source, UInt64(sealed.count), publicKey, secretKey)
    guard rc == 0 else {
      throw RealtimeError(.corrupt, "the sealed box does not open: tampered with, or sealed to another key")
    }
    return out
  }
}
