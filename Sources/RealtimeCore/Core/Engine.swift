import CLibUV

/// Everything a core does on its loop thread. Confined: its members are touched only on the
/// loop thread while the core runs, and only under the core's lifecycle lock while it is stopped.
final class Engine: @unchecked Sendable {
  typealias Job = @Sendable () -> Void

  /// Calls from other threads, run in order on the loop thread.
  let mailbox = Inbox<Job>()
  let log: DurableLog
  /// Channels, subscriptions and history.
  let router: Router
  /// The core's rate limits, shared by the protocol sessions and the host (thread-safe).
  let rateLimiter = RateLimiter()
  /// The live connections of each token session, closed when it is revoked.
  let tokenConnections = TokenConnections()
  /// The core's documents, which sessions sync with clients (set once, before the loop runs).
  var documents: DocumentHub?
  /// Who may do what with channels and documents (set once, before the loop runs).
  var access: Access?
  let sink: LogSink
  private var turnEnd: TurnEndHook?
  private var loop: UnsafeMutablePointer<uv_loop_t>?
  private var timers: [ObjectIdentifier: LoopTimer] = [:]
  private var listeners: [TCPListener] = []
  private var connections: [ObjectIdentifier: TCPConnection] = [:]
  private var connectionsPerIP: [String: Int] = [:]
  private var handshaking = 0
  private var hostConnections: [UInt64: HostConnection] = [:]
  private var nextHostConnectionID: UInt64 = 1
  private var nextSessionID: UInt64 = 1
  /// Connections with frames queued this turn, flushed when the turn ends.
  private var unflushed: [TCPConnection] = []
  /// Sessions with channel messages batched this turn, turned into frames when the turn ends.
  private var batchedSessions: [ProtocolSession] = []
  /// Flushes coalesced presence diffs and ends expired leases, while any presence exists.
  private var presenceTick: LoopTimer?

  /// Every socket read of this loop lands here and is consumed before the next read.
  static let readBufferSize = 64 << 10
  let readBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Engine.readBufferSize)
  private var stopRequested = false
  // Set when a turn ran cross-thread work; the loop then polls briefly before it sleeps.
  private var busy = false

  /// How long the loop keeps polling its inboxes after a turn that had cross-thread work, before
  /// it blocks. Calls tend to come in runs (a caller waits for one answer, then sends the next);
  /// catching the next one while awake saves a wake-up that costs tens of microseconds on a virtual
  /// machine. Bounded, and never spent by an idle loop.
  static let pollNanoseconds: UInt64 = 50_000
  private(set) var isRunning = false

  init(store: Store, log sink: LogSink) {
    let log = DurableLog(store: store, log: sink)
    self.log = log
    self.router = Router(log: log, store: store, sink: sink)
    self.sink = sink
  }

  deinit { readBuffer.deallocate() }

  /// Installs the engine's handles on `loop`. Loop thread. `keepsLoopAlive` is true on the core's
  /// own loop (its mailbox keeps it running until stop) and false on a host's loop.
  func begin(on loop: UnsafeMutablePointer<uv_loop_t>, keepsLoopAlive: Bool) throws(RealtimeError) {
    stopRequested = false
    try mailbox.open(loop: loop, keepsLoopAlive: keepsLoopAlive) { [unowned self] jobs in
      self.busy = true
      for job in jobs { job() }
      // Stop only after the whole batch ran, so no job posted before the stop is skipped.
      if self.stopRequested { self.shutdown() }
    }
    do {
      try log.open(loop: loop)
      turnEnd = try TurnEndHook(
        loop: loop, body: { [unowned self] in self.endOfTurn() },
        beforeBlocking: { [unowned self] in self.pollBeforeBlocking() })
    } catch {
      mailbox.close()
      log.drainAndClose()
      throw error
    }
    self.loop = loop
    isRunning = true
    sink(.debug, "engine running")
  }

  /// After a busy turn, polls the inboxes for a short while and serves what arrives, instead of
  /// letting the loop sleep at once.
  private func pollBeforeBlocking() {
    guard busy, isRunning else { return }
    busy = false
    var deadline = uv_hrtime() &+ Engine.pollNanoseconds
    var polls = 0
    while isRunning {
      if mailbox.hasItems || log.hasOutcomes {
        mailbox.drain()
        log.deliverOutcomes()
        endOfTurn()
        deadline = uv_hrtime() &+ Engine.pollNanoseconds
        continue
      }
      polls &+= 1
      if polls & 63 == 0 && uv_hrtime() >= deadline { return }
    }
  }

  /// Hands the turn's store writes to the writer and the turn's frames to the sockets.
  private func endOfTurn() {
    log.flush()
    if router.presence.hasPending { _ = router.flushPresence() }
    // Large channels' coalesced diffs and host entries' leases need time to pass: a tick while
    // any presence exists.
    if presenceTick == nil && isRunning && router.presence.isActive {
      presenceTick = try? schedule(after: 250, every: 250) { [unowned self] in _ = self.router.flushPresence() }
    }
    while !batchedSessions.isEmpty {
      let sessions = batchedSessions
      batchedSessions = []
      for session in sessions { session.flushBatch() }
    }
    flushConnections()
  }

  /// Asks for `connection`'s queued frames to be written at the end of this turn. Loop thread.
  func flushAtTurnEnd(_ connection: TCPConnection) {
    unflushed.append(connection)
  }

  private func flushConnections() {
    while !unflushed.isEmpty {
      let connections = unflushed
      unflushed = []
      for connection in connections { connection.flushOutbox() }
    }
  }

  /// Runs `body` on the loop thread after `delay` ms, then every `interval` ms if not 0, until the
  /// returned timer is cancelled or the engine stops. Loop thread.
  @discardableResult
  func schedule(after delay: UInt64, every interval: UInt64 = 0, _ body: @escaping () -> Void)
    throws(RealtimeError) -> LoopTimer
  {
    guard isRunning, let loop else { throw RealtimeError(.closed, "the core is stopping") }
    let timer = try LoopTimer(loop: loop) { [unowned self] in self.timers[ObjectIdentifier($0)] = nil }
    timers[ObjectIdentifier(timer)] = timer
    timer.start(after: delay, every: interval, body)
    return timer
  }

  /// Listens for WebSocket clients on `host:port`; returns the bound port. Loop thread.
  func listen(host: String, port: Int, config: ListenConfig) throws(RealtimeError) -> Int {
    guard isRunning, let loop else { throw RealtimeError(.closed, "the core is stopping") }
    let listener = try TCPListener(loop: loop, host: host, port: port, config: config) { [unowned self] in
      self.accept($0, from: $1)
    }
    listeners.append(listener)
    sink(.debug, "listening on ws://\(host):\(listener.port)\(config.session.path)")
    return listener.port
  }

  /// Open WebSocket (and handshaking) connections.
  var connectionCount: Int { connections.count }

  /// The TCP connections the engine holds. Loop thread.
  var tcpConnections: [TCPConnection] { Array(connections.values) }

  private func accept(_ listener: TCPListener, from server: UnsafeMutablePointer<uv_stream_t>) {
    guard let loop else { return }
    let handle = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
    uv_tcp_init(loop, handle)
    handle.pointee.data = nil
    guard uv_accept(server, UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self)) == 0 else {
      closeAndFree(handle)
      return
    }
    uv_tcp_nodelay(handle, 1)
    let config = listener.config
    let peer = peerAddress(of: handle)
    let connection = TCPConnection(handle: handle, engine: self, config: config, peer: peer)
    connection.onOpened = { [unowned self] opened in self.handshakeOver(opened) }
    connection.onClosed = { [unowned self] closed in
      self.handshakeOver(closed)
      self.connections[ObjectIdentifier(closed)] = nil
      let left = (self.connectionsPerIP[closed.peer] ?? 1) - 1
      self.connectionsPerIP[closed.peer] = left > 0 ? left : nil
    }
    var refusal: HTTPError? =
      connections.count >= config.maxConnections
      ? HTTPError(503, "the server is at its connection limit")
      : (connectionsPerIP[peer] ?? 0) >= config.maxConnectionsPerIP
        ? HTTPError(503, "too many connections from \(peer)")
        : handshaking >= config.maxPendingHandshakes ? HTTPError(503, "too many handshakes in progress") : nil
    if refusal == nil, let decision = try? rateLimiter.check("connect", key: Array(peer.utf8)), !decision.allowed {
      refusal = HTTPError(429, "too many new connections from \(peer); retry in \(decision.retryAfterMs) ms")
    }
    connections[ObjectIdentifier(connection)] = connection
    connectionsPerIP[peer, default: 0] += 1
    handshaking += 1
    connection.start()
    if let refusal {
      sink(.info, "refusing \(peer): \(refusal.message)")
      connection.session?.refuse(refusal)
    }
  }

  /// Opens a connection whose socket the host owns; returns its id. Loop thread.
  func openHostConnection(
    config: ListenConfig, output: @escaping (UnsafeRawBufferPointer) -> Void, ended: @escaping () -> Void
  ) throws(RealtimeError) -> UInt64 {
    guard isRunning else { throw RealtimeError(.closed, "the core is stopping") }
    let id = nextHostConnectionID
    nextHostConnectionID += 1
    let connection = HostConnection(id: id, output: output) { [unowned self] in
      self.hostConnections[id] = nil
      ended()
    }
    hostConnections[id] = connection
    connection.start(config: config, engine: self)
    return id
  }

  /// Feeds bytes to a host connection; unknown (already ended) ids are ignored. Loop thread.
  func feedHostConnection(_ id: UInt64, _ bytes: UnsafeRawBufferPointer) {
    hostConnections[id]?.feed(bytes)
  }

  /// Forgets a host connection without calling the host back. Loop thread.
  func closeHostConnection(_ id: UInt64) {
    hostConnections.removeValue(forKey: id)?.detach()
  }

  /// The application protocol for a new session on an endpoint with `config`; `pings` tells
  /// whether the transport sends keepalive pings (TCP) or not (host-fed). Loop thread.
  func protocolSession(for config: ListenConfig, pings: Bool) -> ProtocolSession {
    let id = nextSessionID
    nextSessionID += 1
    var settings = ProtocolSettings(
      limits: config.session.envelope, connectTimeoutMs: config.connectTimeoutMs,
      pingIntervalMs: pings ? max(config.idleTimeoutMs / 2, 1) : nil, maxMessageBytes: config.session.maxMessageBytes,
      authenticate: config.session.authenticate)
    // Hold messages back well before the transport's own limit closes the client with 1008.
    settings.holdAboveBytes = min(settings.holdAboveBytes, config.maxWriteQueueBytes / 4)
    settings.rateLimiter = rateLimiter
    settings.access = access
    settings.tokenConnections = tokenConnections
    settings.tokenGate = config.session.tokenAuth == .off ? nil : config.session.tokenGate
    return ProtocolSession(
      id: id, settings: settings, router: router, documents: documents,
      requestFlush: { [unowned self] session in self.batchedSessions.append(session) }
    ) { [unowned self] delay, body in
      try? self.schedule(after: delay, body)
    }
  }

  /// Takes a connection out of the handshaking count, once.
  private func handshakeOver(_ connection: TCPConnection) {
    guard connection.countsAsHandshaking else { return }
    connection.countsAsHandshaking = false
    handshaking -= 1
  }

  /// The loop's clock in milliseconds (libuv's cached time). Loop thread.
  var now: UInt64 { loop.map(LoopTimer.now) ?? 0 }

  /// Asks the loop to shut down after the jobs already queued. Loop thread (from a job).
  func requestStop() { stopRequested = true }

  /// Runs what is queued, commits every pending write, delivers every acknowledgement, then closes
  /// the engine's handles. Loop thread. Afterwards new calls are refused with `.closed`/`.state`.
  func shutdown() {
    guard isRunning else { return }
    isRunning = false
    mailbox.close()
    mailbox.drain()
    for listener in listeners { listener.close() }
    listeners = []
    for connection in connections.values {
      // Forgotten here: one already closing must not call back into counts reset below.
      connection.onOpened = nil
      connection.onClosed = nil
      connection.session?.goAway()
      connection.closeNow(detached: true)
    }
    connections = [:]
    connectionsPerIP = [:]
    for connection in hostConnections.values {
      connection.session?.goAway()
      connection.finish()
    }
    hostConnections = [:]
    handshaking = 0
    log.drainAndClose()
    for timer in Array(timers.values) { timer.cancel() }
    presenceTick = nil
    turnEnd?.close()
    turnEnd = nil
    loop = nil
    sink(.debug, "engine stopped")
  }
}
