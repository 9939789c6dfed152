import CSodium

/// Argon2id password hashing (libsodium's `crypto_pwhash_str`): salted, memory-hard, encoded
/// with its parameters (`$argon2id$v=19$m=65536,t=2,p=1$...`), so hashes made under older
/// parameters still verify and can be replaced at the next login (`needsRehash`). Each hash
/// takes `memoryLimit` bytes and most of a core for a moment, so at most `maxConcurrent` run at
/// once; further callers wait their turn instead of exhausting memory. Any thread.
public final class PasswordHasher: @unchecked Sendable {
  /// Cost parameters: passes over memory and bytes of memory.
  public struct Limits: Sendable, Equatable {
    public var operations: UInt64
    public var memoryBytes: Int
    public init(operations: UInt64, memoryBytes: Int) {
      self.operations = operations
      self.memoryBytes = memoryBytes
    }
    /// libsodium's interactive limits (2 passes, 64 MiB): about 0.1 s on a server core.
    public static let interactive = Limits(
      operations: UInt64(crypto_pwhash_opslimit_interactive()), memoryBytes: crypto_pwhash_memlimit_interactive())
    /// libsodium's moderate limits (3 passes, 256 MiB).
    public static let moderate = Limits(
      operations: UInt64(crypto_pwhash_opslimit_moderate()), memoryBytes: crypto_pwhash_memlimit_moderate())
  }

  /// Longest password taken, in bytes (Argon2 would take more; a longer one is a mistake or an
  /// attack on the hasher's time).
  public static let maxPasswordBytes = 4096
  /// Length of an encoded hash, NUL included.
  public static let encodedBytes = Int(crypto_pwhash_STRBYTES)

  public let limits: Limits
  public let maxConcurrent: Int
  private let gate: ConditionLock
  private var running = 0  // guarded by gate
  private var mostRunning = 0  // guarded by gate

  /// The most hashes that ran at once so far (at most `maxConcurrent`).
  public var peakConcurrency: Int { gate.withLock { mostRunning } }

  /// A hasher with `limits` (at least libsodium's minimums) running at most `maxConcurrent`
  /// hashes at once (1 to 64).
  public init(limits: Limits = .interactive, maxConcurrent: Int = 2) throws(RealtimeError) {
    guard limits.operations >= UInt64(crypto_pwhash_opslimit_min()), limits.memoryBytes >= crypto_pwhash_memlimit_min(),
      limits.operations <= UInt64(crypto_pwhash_opslimit_max()), limits.memoryBytes <= 1 << 32
    else { throw RealtimeError(.invalidArgument, "password hashing limits outside what Argon2id takes") }
    guard (1...64).contains(maxConcurrent) else {
      throw RealtimeError(.invalidArgument, "concurrent password hashes must be 1 to 64")
    }
    guard sodium_init() >= 0 else { throw RealtimeError(.internal, "libsodium did not initialise") }
    self.limits = limits
    self.maxConcurrent = maxConcurrent
    gate = try ConditionLock()
  }

  /// The encoded Argon2id hash of `password`, with a fresh random salt. Blocks while
  /// `maxConcurrent` hashes run. Throws `.tooLarge` past `maxPasswordBytes`, `.noMemory` when
  /// the memory the limits ask for cannot be had.
  public func hash(_ password: UnsafeRawBufferPointer) throws(RealtimeError) -> String {
    try check(password)
    var out = [CChar](repeating: 0, count: Self.encodedBytes)
    let rc = Self.withChars(password) { chars in
      turn { crypto_pwhash_str(&out, chars, UInt64(password.count), limits.operations, limits.memoryBytes) }
    }
    guard rc == 0 else { throw RealtimeError(.noMemory, "Argon2id could not get \(limits.memoryBytes) bytes") }
    return out.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
  }

  /// Whether `password` matches `encoded`, and whether the hash was made under other limits
  /// than this hasher's (hash the password again and store the new hash). A hash that is not
  /// an Argon2id encoding, or under limits past this machine's memory, does not match.
  public func verify(_ encoded: String, _ password: UnsafeRawBufferPointer) throws(RealtimeError) -> (
    matches: Bool, needsRehash: Bool
  ) {
    try check(password)
    guard encoded.utf8.count < Self.encodedBytes, encoded.hasPrefix("$argon2id$") else { return (false, false) }
    let matches = Self.withChars(password) { chars in
      turn { crypto_pwhash_str_verify(encoded, chars, UInt64(password.count)) == 0 }
    }
    guard matches else { return (false, false) }
    let rehash = crypto_pwhash_str_needs_rehash(encoded, limits.operations, limits.memoryBytes) != 0
    return (true, rehash)
  }

  private func check(_ password: UnsafeRawBufferPointer) throws(RealtimeError) {
    guard password.count <= Self.maxPasswordBytes else {
      throw RealtimeError(.tooLarge, "a password of \(password.count) bytes exceeds \(Self.maxPasswordBytes)")
    }
  }

  /// Runs `body` with the password's bytes as C chars (an empty one has no address of its own).
  private static func withChars<R>(_ password: UnsafeRawBufferPointer, _ body: (UnsafePointer<CChar>) -> R) -> R {
    if let base = password.baseAddress { return body(base.assumingMemoryBound(to: CChar.self)) }
    var none: CChar = 0
    return body(&none)
  }

  /// Runs `body` once fewer than `maxConcurrent` others are running.
  private func turn<R>(_ body: () -> R) -> R {
    gate.withLock {
      while running >= maxConcurrent { gate.wait() }
      running += 1
      mostRunning = max(mostRunning, running)
    }
    defer {
      gate.withLock {
        running -= 1
        gate.broadcast()
      }
    }
    return body()
  }
}
