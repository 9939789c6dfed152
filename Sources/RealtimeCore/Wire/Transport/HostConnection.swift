/// A connection whose socket the host owns (the C API's `rt_conn_*`): the host feeds the bytes it
/// reads, and writes out what `output` hands it. The same `WebSocketSession` as a TCP connection
/// runs it. Loop-thread only.
final class HostConnection: SessionTransport {
  let id: UInt64
  private(set) var session: WebSocketSession?
  private let output: (UnsafeRawBufferPointer) -> Void
  private let ended: () -> Void
  private var isFinished = false
  private var timer: LoopTimer?

  init(id: UInt64, output: @escaping (UnsafeRawBufferPointer) -> Void, ended: @escaping () -> Void) {
    self.id = id
    self.output = output
    self.ended = ended
  }

  /// Starts the session and its handshake timer.
  func start(config: ListenConfig, engine: Engine) {
    let session = WebSocketSession(config: config.session, transport: self)
    session.application = engine.protocolSession(for: config, pings: false)
    self.session = session
    timer = try? engine.schedule(after: config.handshakeTimeoutMs) { [unowned self] in
      self.session?.refuse(HTTPError(408, "the opening handshake took longer than \(config.handshakeTimeoutMs) ms"))
    }
  }

  /// Bytes the host read from its socket.
  func feed(_ bytes: UnsafeRawBufferPointer) {
    guard let session, !isFinished else { return }
    let wasHandshaking = session.phase == .handshake
    session.receive(bytes)
    if wasHandshaking && session.phase != .handshake {
      timer?.cancel()
      timer = nil
    }
  }

  func write(_ bytes: OutboundBytes) {
    guard !isFinished else { return }
    bytes.withUnsafeBytes { output($0) }
  }

  func write(pieces: [OutboundBytes]) {
    for piece in pieces { write(piece) }
  }

  /// The host writes synchronously in `output`: nothing stays queued here.
  var backlogBytes: Int { 0 }

  /// The session is over: the host closes its socket once it has written what it was given.
  func finish() {
    guard !isFinished else { return }
    isFinished = true
    timer?.cancel()
    timer = nil
    ended()
    // A session still closing (the core is shutting down and the peer never answered) ends here:
    // nothing more can reach it, and ending it lets its protocol session go.
    session?.transportClosed()
  }

  /// The host is closing its socket: no callback follows.
  func detach() {
    isFinished = true
    timer?.cancel()
    timer = nil
    session?.transportClosed()
  }
}
