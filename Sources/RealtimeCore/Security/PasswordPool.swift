import CSodium

/// Runs password hashes and checks on threads of the core's own (`rt-pwhash`), so an event loop
/// or a request handler hands the work off instead of blocking on Argon2id for a tenth of a
/// second. Threads are started as needed, up to the hasher's `maxConcurrent`; the hasher's own
/// cap still bounds how many hashes run at once across these threads and blocking callers.
/// Waiting jobs are bounded (`maxQueued`): past it a submit fails with `.busy` rather than
/// queueing memory and latency without end. Each completion runs exactly once, on a pool
/// thread: with the result, or with `.closed` for a job not started when the core closed.
final class PasswordPool: @unchecked Sendable {
  /// Jobs that may wait for a thread.
  static let maxQueued = 1024

  /// What to do with a password: hash it, or check it against an encoded hash.
  enum Work: Sendable {
    case hash(@Sendable (Result<String, RealtimeError>) -> Void)
    case verify(hash: String, @Sendable (Result<PasswordCheck, RealtimeError>) -> Void)
  }

  private struct Job {
    /// A copy of the password, wiped once the job is done.
    var password: [UInt8]
    let work: Work
  }

  private let gate: ConditionLock
  private let hasher: @Sendable () -> PasswordHasher
  // Guarded by gate.
  private var queue: [Job] = []
  private var head = 0
  private var threads: [LoopThread] = []
  private var idle = 0
  private var closed = false

  /// A pool whose jobs use the hasher `hasher` returns at the time each job starts (so
  /// `configurePasswords` takes effect for queued jobs too).
  init(hasher: @escaping @Sendable () -> PasswordHasher) throws(RealtimeError) {
    self.hasher = hasher
    gate = try ConditionLock()
  }

  /// Queues `work` on a copy of `password`. Throws `.tooLarge` for a password past
  /// `PasswordHasher.maxPasswordBytes`, `.busy` with `maxQueued` jobs waiting, `.closed` after
  /// `close`, `.noMemory` when no thread can be started.
  func submit(_ password: UnsafeRawBufferPointer, _ work: Work) throws(RealtimeError) {
    guard password.count <= PasswordHasher.maxPasswordBytes else {
      throw RealtimeError(.tooLarge, "a password of \(password.count) bytes exceeds \(PasswordHasher.maxPasswordBytes)")
    }
    let limit = hasher().maxConcurrent
    try gate.withLock { () throws(RealtimeError) in
      guard !closed else { throw RealtimeError(.closed, "the core is closed") }
      guard queue.count - head < Self.maxQueued else {
        throw RealtimeError(.busy, "\(Self.maxQueued) password jobs are already waiting; try again later")
      }
      if idle == 0 && threads.count < limit {
        threads.append(try LoopThread(name: "pwhash") { [self] in run() })
      }
      queue.append(Job(password: Array(password), work: work))
      gate.broadcast()
    }
  }

  /// Fails every job not started with `.closed`, lets running ones finish, and joins the
  /// threads. Later submits fail with `.closed`. Idempotent.
  func close() {
    let stopping = gate.withLock { () -> [LoopThread] in
      closed = true
      gate.broadcast()
      let all = threads
      threads = []
      return all
    }
    for var thread in stopping { thread.join() }
  }

  private func run() {
    while let (job, cancelled) = next() {
      var job = job
      finish(job, cancelled: cancelled)
      job.password.withUnsafeMutableBytes { bytes in
        if let base = bytes.baseAddress { sodium_memzero(base, bytes.count) }
      }
    }
  }

  /// The next job, and whether it is to be cancelled (the pool closed); nil once the queue is
  /// empty after close.
  private func next() -> (Job, Bool)? {
    gate.withLock { () -> (Job, Bool)? in
      idle += 1
      defer { idle -= 1 }
      while head == queue.count && !closed { gate.wait() }
      guard head < queue.count else { return nil }
      let job = queue[head]
      head += 1
      if head == queue.count {
        queue.removeAll(keepingCapacity: true)
        head = 0
      }
      return (job, closed)
    }
  }

  private func finish(_ job: Job, cancelled: Bool) {
    let closedError = RealtimeError(.closed, "the core closed before the password job ran")
    let hasher = hasher()
    job.password.withUnsafeBytes { password in
      switch job.work {
      case .hash(let done):
        if cancelled { return done(.failure(closedError)) }
        done(Result { () throws(RealtimeError) in try hasher.hash(password) })
      case .verify(let encoded, let done):
        if cancelled { return done(.failure(closedError)) }
        done(
          Result { () throws(RealtimeError) in
            let (matches, rehash) = try hasher.verify(encoded, password)
            return PasswordCheck(matches: matches, needsRehash: rehash)
          })
      }
    }
  }
}

/// The outcome of checking a password against a stored hash.
public struct PasswordCheck: Sendable, Equatable {
  /// Whether the password matches.
  public let matches: Bool
  /// Whether it matched under other limits than the hasher's: hash it again and store that.
  public let needsRehash: Bool
}
