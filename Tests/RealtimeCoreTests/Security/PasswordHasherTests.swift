import Testing

@testable import RealtimeCore

#if canImport(Glibc)
  import Glibc
#endif

/// Argon2id through the hasher: hashes verify, wrong passwords and foreign strings do not,
/// changed limits ask for a rehash, and no more hashes run at once than the cap.
@Suite struct PasswordHasherTests {
  /// The cheapest limits Argon2id takes, so the tests are quick.
  private static let cheap = PasswordHasher.Limits(operations: 1, memoryBytes: 8 << 10)

  private func hash(_ hasher: PasswordHasher, _ password: String) throws -> String {
    try Array(password.utf8).withUnsafeBytes { try hasher.hash($0) }
  }

  private func verify(_ hasher: PasswordHasher, _ encoded: String, _ password: String) throws -> (Bool, Bool) {
    let result = try Array(password.utf8).withUnsafeBytes { try hasher.verify(encoded, $0) }
    return (result.matches, result.needsRehash)
  }

  @Test func hashesVerifyAndWrongPasswordsDoNot() throws {
    let hasher = try PasswordHasher(limits: Self.cheap, maxConcurrent: 2)
    let encoded = try hash(hasher, "correct horse")
    #expect(encoded.hasPrefix("$argon2id$v=19$m=8,t=1,p=1$"))
    #expect(try hash(hasher, "correct horse") != encoded, "a fresh salt each time")
    #expect(try verify(hasher, encoded, "correct horse") == (true, false))
    #expect(try verify(hasher, encoded, "correct horsf") == (false, false))
    #expect(try verify(hasher, encoded, "") == (false, false))
    #expect(try verify(hasher, "$2b$10$notargon", "correct horse") == (false, false))
    #expect(try verify(hasher, String(encoded.dropLast()), "correct horse") == (false, false))
    let empty = try hash(hasher, "")
    #expect(try verify(hasher, empty, "") == (true, false))
    let long = [UInt8](repeating: 0x61, count: PasswordHasher.maxPasswordBytes + 1)
    #expect(throws: RealtimeError.self) { try long.withUnsafeBytes { try hasher.hash($0) } }
  }

  @Test func otherLimitsAskForARehash() throws {
    let old = try PasswordHasher(limits: Self.cheap, maxConcurrent: 1)
    let encoded = try hash(old, "pw")
    let stronger = try PasswordHasher(limits: .init(operations: 2, memoryBytes: 16 << 10), maxConcurrent: 1)
    #expect(try verify(stronger, encoded, "pw") == (true, true))
    #expect(try verify(stronger, try hash(stronger, "pw"), "pw") == (true, false))
    #expect(throws: RealtimeError.self) { try PasswordHasher(limits: .init(operations: 0, memoryBytes: 8 << 10)) }
    #expect(throws: RealtimeError.self) { try PasswordHasher(limits: Self.cheap, maxConcurrent: 0) }
  }

  /// Eight threads hash at once under a cap of two: never more than two run.
  @Test func noMoreHashesRunThanTheCap() throws {
    let hasher = try PasswordHasher(limits: .init(operations: 2, memoryBytes: 1 << 20), maxConcurrent: 2)
    let done = Collector<Bool>()
    var threads: [pthread_t] = []
    final class Job {
      let body: () -> Void
      init(_ body: @escaping () -> Void) { self.body = body }
    }
    for _ in 0..<8 {
      let job = Job {
        let ok = (try? Array("pw".utf8).withUnsafeBytes { try hasher.hash($0) }) != nil
        done.add(ok)
      }
      var thread = pthread_t()
      let context = Unmanaged.passRetained(job).toOpaque()
      #expect(
        pthread_create(
          &thread, nil,
          { raw in
            let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
            job.body()
            return nil
          }, context) == 0)
      threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
    #expect(done.all.count == 8 && done.all.allSatisfy { $0 })
    #expect(hasher.peakConcurrency >= 1 && hasher.peakConcurrency <= 2)
  }

  /// The pool's threads hash and check without blocking the submitter, never exceed the cap,
  /// and answer every job exactly once, with `.closed` for those still waiting at close.
  @Test func thePoolAnswersEveryJobOnceWithinTheCap() throws {
    let hasher = try PasswordHasher(limits: .init(operations: 2, memoryBytes: 1 << 20), maxConcurrent: 2)
    let pool = try PasswordPool { hasher }
    let first = try Waiter<Result<String, RealtimeError>>()
    try Array("pw".utf8).withUnsafeBytes { try pool.submit($0, .hash { first.fulfill($0) }) }
    let encoded = try first.wait().get()
    #expect(encoded.hasPrefix("$argon2id$"))
    let right = try Waiter<Result<PasswordCheck, RealtimeError>>()
    let wrong = try Waiter<Result<PasswordCheck, RealtimeError>>()
    try Array("pw".utf8).withUnsafeBytes { try pool.submit($0, .verify(hash: encoded) { right.fulfill($0) }) }
    try Array("px".utf8).withUnsafeBytes { try pool.submit($0, .verify(hash: encoded) { wrong.fulfill($0) }) }
    #expect(try right.wait().get() == PasswordCheck(matches: true, needsRehash: false))
    #expect(try wrong.wait().get() == PasswordCheck(matches: false, needsRehash: false))

    let hashes = Collector<Result<String, RealtimeError>>()
    for _ in 0..<10 {
      try Array("pw".utf8).withUnsafeBytes { try pool.submit($0, .hash { hashes.add($0) }) }
    }
    pool.close()
    #expect(hashes.all.count == 10)
    let closed = hashes.all.filter { if case .failure(let e) = $0 { e.code == .closed } else { false } }.count
    let made = hashes.all.filter { if case .success = $0 { true } else { false } }.count
    #expect(closed + made == 10)
    #expect(hasher.peakConcurrency >= 1 && hasher.peakConcurrency <= 2)
    #expect(throws: RealtimeError.self) { try Array("pw".utf8).withUnsafeBytes { try pool.submit($0, .hash { _ in }) } }
  }

  /// A "hash" longer than any encoding (which the core queues as an empty one) does not match
  /// and is answered like any other check.
  @Test func anOverlongHashIsANoMatchThroughTheCore() throws {
    let core = try Core(config: CoreConfig(databasePath: nil, durability: .off))
    defer { try? core.close() }
    try core.configurePasswords(limits: Self.cheap, maxConcurrent: 1)
    let outcome = try Waiter<Result<PasswordCheck, RealtimeError>>()
    let overlong = "$argon2id$" + String(repeating: "a", count: 100_000)
    try Array("pw".utf8).withUnsafeBytes { try core.verifyPassword($0, hash: overlong) { outcome.fulfill($0) } }
    #expect(try outcome.wait().get() == PasswordCheck(matches: false, needsRehash: false))
  }
}
