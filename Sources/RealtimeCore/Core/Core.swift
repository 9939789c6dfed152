import CLibUV

/// An engine instance: one libuv loop, one store. The Swift face of `rt_core`.
///
/// Lifecycle calls (`start`, `attach`, `stop`, `close`) are serialised by a lock; everything the
/// engine does runs on its loop thread, reached from other threads through its mailbox.
public final class Core: @unchecked Sendable {
  private enum Phase {
    case stopped
    /// Running on the core's own thread (`thread` set) or attached to a host loop.
    case running(loop: EventLoop, thread: LoopThread?)
    case closed
  }

  let store: Store
  let engine: Engine
  let documents: DocumentHub
  /// The master keys this core seals with (`Sealer`): add them from a key file, the
  /// environment or the host before sealing.
  public let keyring: Keyring
  /// PASETO v4.public access and refresh tokens, and the Ed25519 keys that sign them. Tokens
  /// carrying a session id are checked against `sessions`.
  public let tokens: Tokens
  /// Sessions (refresh-token families with rotation and reuse detection) and each user's
  /// devices, kept in the database.
  public let sessions: Sessions
  /// Roles per workspace and channel access rules, checked by the protocol (`Access`).
  public let access: Access
  private let hasher: Locked<PasswordHasher>
  private let passwordPool: PasswordPool
  private let sink: LogSink
  private let lifecycle = Locked(Phase.stopped)
  /// The loop thread while running, read by calls that must not block it.
  private let loopThread = Locked<ThreadID?>(nil)

  /// Opens the database and starts the writer thread; the loop runs after `start` or `attach`.
  public init(config: CoreConfig) throws(RealtimeError) {
    sink = LogSink(level: config.logLevel, handler: config.logHandler)
    // Before the store: nothing to shut down if these fail.
    let hasher = Locked(try PasswordHasher())
    self.hasher = hasher
    passwordPool = try PasswordPool { hasher.withLock { $0 } }
    let keyring = Keyring()
    self.keyring = keyring
    let store = try Store(
      path: config.databasePath, durability: config.durability, groupCommit: config.groupCommit,
      keyring: keyring, log: sink)
    self.store = store
    let engine = Engine(store: store, log: sink)
    self.engine = engine
    let sessionTable = SessionTable()
    tokens = Tokens(clock: Tokens.systemSeconds, sessionTable: sessionTable)
    do {
      // A revocation closes the session's live connections, on the loop thread; a core that is
      // not running has none.
      sessions = try Sessions(store: store, tokens: tokens, table: sessionTable) { ids in
        _ = engine.mailbox.post { engine.tokenConnections.revoked(ids) }
      }
    } catch {
      store.shutdown()
      throw error
    }
    documents = DocumentHub(store: store, engine: engine)
    engine.documents = documents
    do {
      access = try Access(store: store)
    } catch {
      // Nothing else will close the database: a failed init runs no deinit.
      store.shutdown()
      throw error
    }
    engine.access = access
    access.core = self
    sink(
      .info, "core opened (\(config.databasePath.map { "'\($0)'" } ?? "in memory"), durability \(config.durability))")
  }

  deinit {
    try? close()
  }

  /// Runs the loop on a new thread; returns once it is running.
  public func start() throws(RealtimeError) {
    try lifecycle.withLock { phase throws(RealtimeError) in
      try Core.expectStopped(phase)
      let loop = try EventLoop.makeOwned()
      let ready = try Waiter<Result<ThreadID, RealtimeError>>()
      let engine = self.engine
      let thread = try LoopThread(name: "loop") {
        do throws(RealtimeError) {
          try engine.begin(on: loop.raw, keepsLoopAlive: true)
        } catch {
          return ready.fulfill(.failure(error))
        }
        ready.fulfill(.success(.current))
        loop.run()
      }
      switch ready.wait() {
      case .success(let id):
        loopThread.withLock { $0 = id }
        phase = .running(loop: loop, thread: thread)
      case .failure(let error):
        var thread = thread
        thread.join()
        throw error
      }
    }
  }

  /// Runs the engine on the host's libuv loop; call on the thread that runs that loop.
  public func attach(loop raw: UnsafeMutableRawPointer) throws(RealtimeError) {
    try lifecycle.withLock { phase throws(RealtimeError) in
      try Core.expectStopped(phase)
      let loop = EventLoop.borrowing(raw.assumingMemoryBound(to: uv_loop_t.self))
      try engine.begin(on: loop.raw, keepsLoopAlive: false)
      loopThread.withLock { $0 = .current }
      phase = .running(loop: loop, thread: nil)
    }
  }

  /// Finishes queued calls and writes, then stops the loop. A stopped core returns at once.
  public func stop() throws(RealtimeError) {
    try lifecycle.withLock { phase throws(RealtimeError) in try stopLocked(&phase) }
  }

  private func stopLocked(_ phase: inout Phase) throws(RealtimeError) {
    guard case .running(_, let thread) = phase else { return }
    let onLoopThread = loopThread.withLock { $0?.isCurrent ?? false }
    if onLoopThread {
      guard thread == nil else {
        throw RealtimeError(.state, "a started core cannot be stopped from its own loop thread")
      }
      engine.shutdown()
    } else {
      let done = try Waiter<Void>()
      let engine = self.engine
      let posted = engine.mailbox.post {
        engine.requestStop()
        done.fulfill(())
      }
      if posted { done.wait() }
      if var thread { thread.join() }
    }
    loopThread.withLock { $0 = nil }
    phase = .stopped
  }

  /// Stops if running, then closes the database. Idempotent.
  public func close() throws(RealtimeError) {
    try lifecycle.withLock { phase throws(RealtimeError) in
      if case .closed = phase { return }
      try stopLocked(&phase)
      passwordPool.close()
      store.shutdown()
      phase = .closed
      sink(.info, "core closed")
    }
  }

  /// Whether the loop is running (started or attached). Any thread.
  var isStarted: Bool {
    lifecycle.withLock { phase in
      if case .running = phase { return true }
      return false
    }
  }

  /// Runs `job` on the loop thread. Fails with `.state` when the loop is not running.
  func post(_ job: @escaping @Sendable () -> Void) throws(RealtimeError) {
    guard engine.mailbox.post(job) else {
      throw RealtimeError(.state, "the core is not running; call start or attach first")
    }
  }

  /// Runs `body` on the loop thread and returns what it passes to its reply; blocks the caller.
  /// Fails with `.state` on the loop thread itself, where waiting would deadlock.
  func call<T: Sendable>(
    _ body: @escaping @Sendable (Engine, @escaping @Sendable (T) -> Void) -> Void
  ) throws(RealtimeError) -> T {
    if isOnLoopThread {
      throw RealtimeError(.state, "this call blocks, so it cannot be made on the core's loop thread")
    }
    let waiter = try Waiter<T>()
    let engine = self.engine
    try post { body(engine) { waiter.fulfill($0) } }
    return waiter.wait()
  }

  /// Runs `body` on the loop thread and returns its result or rethrows its error; blocks the
  /// caller, with the rules of `call`.
  func perform<T: Sendable>(
    _ body: @escaping @Sendable (Engine) throws(RealtimeError) -> T
  ) throws(RealtimeError) -> T {
    let result: Result<T, RealtimeError> = try call { engine, reply in
      do throws(RealtimeError) { reply(.success(try body(engine))) } catch { reply(.failure(error)) }
    }
    return try result.get()
  }

  /// Blocks until every call posted before it has run and every write it queued is committed.
  public func sync() throws(RealtimeError) {
    let error: RealtimeError? = try call { engine, reply in
      engine.log.barrier { reply($0) }
    }
    if let error { throw error }
  }

  /// Listens for WebSocket clients on `host:port` (an IPv4 or IPv6 address; port 0 picks a free
  /// port) and returns the port bound. Any thread but the loop's.
  public func listen(host: String, port: Int, config: ListenConfig = ListenConfig()) throws(RealtimeError) -> Int {
    let config = withTokenGate(config)
    return try perform { engine throws(RealtimeError) in
      try engine.listen(host: host, port: port, config: config)
    }
  }

  /// `config` with this core's tokens to check upgrade tokens with (`SessionConfig.tokenAuth`).
  private func withTokenGate(_ config: ListenConfig) -> ListenConfig {
    var config = config
    config.session.tokenGate = TokenGate(tokens: tokens)
    return config
  }

  /// Whether the calling thread is this core's loop thread.
  var isOnLoopThread: Bool { loopThread.withLock { $0?.isCurrent ?? false } }

  /// Opens a WebSocket connection whose socket the host owns. `output` receives the bytes to write
  /// to the peer, and `ended` is called once when the session is over (the host then closes its
  /// socket); both run on the loop thread. Returns the connection's id. Any thread.
  public func openHostConnection(
    config: ListenConfig = ListenConfig(), output: @escaping @Sendable (UnsafeRawBufferPointer) -> Void,
    ended: @escaping @Sendable () -> Void
  ) throws(RealtimeError) -> UInt64 {
    let config = withTokenGate(config)
    if isOnLoopThread {
      return try engine.openHostConnection(config: config, output: output, ended: ended)
    }
    return try perform { engine throws(RealtimeError) in
      try engine.openHostConnection(config: config, output: output, ended: ended)
    }
  }

  /// Bytes the host read from a host connection's socket. Processed at once on the loop thread,
  /// otherwise copied and queued. Any thread.
  public func feedHostConnection(_ id: UInt64, _ bytes: UnsafeRawBufferPointer) throws(RealtimeError) {
    if isOnLoopThread { return engine.feedHostConnection(id, bytes) }
    let copy = Array(bytes)
    let engine = self.engine
    try post { copy.withUnsafeBytes { engine.feedHostConnection(id, $0) } }
  }

  /// Ends a host connection without further callbacks: when this returns, `output` and `ended` of
  /// that connection are not called again. A stopped core has already ended it. Any thread.
  public func closeHostConnection(_ id: UInt64) throws(RealtimeError) {
    if isOnLoopThread { return engine.closeHostConnection(id) }
    do {
      let _: Bool = try call { engine, reply in
        engine.closeHostConnection(id)
        reply(true)
      }
    } catch  where error.code == .state {
      return  // not running: shutdown already ended every host connection
    }
  }

  /// Appends `payload` to the durable log `stream` (created on first use); `completion` runs on the
  /// loop thread with the entry's seq once durable. Any thread.
  public func append(
    stream: String, payload: [UInt8],
    completion: @escaping @Sendable (Result<UInt64, RealtimeError>) -> Void
  ) throws(RealtimeError) {
    let engine = self.engine
    try post { engine.log.append(stream: stream, payload: payload, completion: completion) }
  }

  /// Reads up to `limit` entries of `stream` after seq `after`, oldest first. Any thread.
  public func read(stream: String, after: UInt64, limit: Int) throws(RealtimeError)
    -> [(seq: UInt64, payload: [UInt8])]
  {
    try DurableLog.read(store, stream: stream, after: after, limit: limit)
  }

  /// Re-seals under the current key every stored channel entry, document update, snapshot and
  /// file chunk sealed under another key or stored plaintext (end-to-end payloads stay as the
  /// client sealed them), in batches the writer commits among the other writes; returns the rows re-sealed.
  /// Afterwards keys other than the current one can be removed. Works whether or not the loop
  /// runs. Throws `.state` with no current key or on the loop thread (it blocks), `.corrupt` or
  /// `.notFound` for a row that does not open (named in the message; nothing is deleted). Any
  /// thread but the loop's.
  public func reseal() throws(RealtimeError) -> UInt64 {
    guard !isOnLoopThread else {
      throw RealtimeError(.state, "reseal blocks until done; call it from another thread than the loop's")
    }
    return try store.reseal()
  }

  /// Runs `PRAGMA integrity_check`: `ok` when the database is sound, and the checker's report
  /// ("ok", or what is damaged). Any thread; reads the whole file.
  public func integrityCheck() throws(RealtimeError) -> (ok: Bool, report: String) {
    try store.integrityReport()
  }

  private static func expectStopped(_ phase: Phase) throws(RealtimeError) {
    switch phase {
    case .stopped: return
    case .running: throw RealtimeError(.state, "the core is already running")
    case .closed: throw RealtimeError(.closed, "the core is closed")
    }
  }
}

extension Core {
  /// The password hasher (Argon2id, interactive limits, 2 at once unless configured).
  public var passwords: PasswordHasher { hasher.withLock { $0 } }

  /// Replaces the password hasher's limits and concurrency cap; hashes made before verify as
  /// before and report `needsRehash` when their limits differ. Any thread.
  public func configurePasswords(limits: PasswordHasher.Limits, maxConcurrent: Int) throws(RealtimeError) {
    let replacement = try PasswordHasher(limits: limits, maxConcurrent: maxConcurrent)
    hasher.withLock { $0 = replacement }
  }

  /// Hashes `password` on one of the core's password threads and passes the encoded hash to
  /// `completion`, on that thread (exactly once; `.closed` if the core closes first). For
  /// callers that must not block, such as a request handler on the loop: post back to the loop
  /// from the completion. The completion must not close the core. Throws `.tooLarge`, `.busy`
  /// (`PasswordPool.maxQueued` jobs waiting), `.closed`.
  public func hashPassword(
    _ password: UnsafeRawBufferPointer, completion: @escaping @Sendable (Result<String, RealtimeError>) -> Void
  ) throws(RealtimeError) {
    try passwordPool.submit(password, .hash(completion))
  }

  /// Checks `password` against `hash` on one of the core's password threads, as `hashPassword`
  /// hashes: a hash that is not Argon2id does not match; `needsRehash` asks for a new hash.
  public func verifyPassword(
    _ password: UnsafeRawBufferPointer, hash: String,
    completion: @escaping @Sendable (Result<PasswordCheck, RealtimeError>) -> Void
  ) throws(RealtimeError) {
    // A string too long to be an encoded hash cannot match: queue an empty one instead, so a
    // waiting job never holds more than a hash's bytes.
    let held = hash.utf8.count < PasswordHasher.encodedBytes ? hash : ""
    try passwordPool.submit(password, .verify(hash: held, completion))
  }
}
