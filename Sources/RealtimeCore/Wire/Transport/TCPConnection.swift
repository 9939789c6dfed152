import CLibUV

/// One accepted TCP connection on the loop, carrying a `WebSocketSession`. It owns the socket,
/// the write queue (capped: a client that does not read is closed, and never slows the others)
/// and the handshake and close timers. Loop-thread only.
final class TCPConnection: SessionTransport {
  let handle: UnsafeMutablePointer<uv_tcp_t>
  let peer: String
  private(set) var session: WebSocketSession?
  private let config: ListenConfig
  let engine: Engine
  private var queuedBytes = 0
  private var finishing = false
  private(set) var isClosed = false
  private var timer: LoopTimer?
  private var keepalive: LoopTimer?
  private var lastHeard: UInt64 = 0
  /// Called once when the socket has closed, so the owner forgets the connection.
  var onClosed: ((TCPConnection) -> Void)?
  /// Whether the engine still counts this connection among those handshaking.
  var countsAsHandshaking = true
  /// Called once when the opening handshake succeeded.
  var onOpened: ((TCPConnection) -> Void)?

  /// Wraps a handle already initialised and accepted on `engine`'s loop.
  init(handle: UnsafeMutablePointer<uv_tcp_t>, engine: Engine, config: ListenConfig, peer: String) {
    self.handle = handle
    self.engine = engine
    self.config = config
    self.peer = peer
  }

  /// Starts reading and the handshake timer.
  func start() {
    let session = WebSocketSession(config: config.session, transport: self)
    session.application = engine.protocolSession(for: config, pings: true)
    self.session = session
    handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    timer = try? engine.schedule(after: config.handshakeTimeoutMs) { [unowned self] in
      self.session?.refuse(
        HTTPError(408, "the opening handshake took longer than \(self.config.handshakeTimeoutMs) ms"))
    }
    let stream = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self)
    let rc = uv_read_start(
      stream,
      { handle, _, buf in
        // One buffer per loop serves every read: each read is consumed before the next.
        guard let handle, let data = handle.pointee.data else { return }
        let engine = Unmanaged<TCPConnection>.fromOpaque(data).takeUnretainedValue().engine
        buf?.pointee = uv_buf_init(engine.readBuffer, UInt32(Engine.readBufferSize))
      },
      { stream, nread, buf in
        guard let stream, let data = stream.pointee.data else { return }
        let connection = Unmanaged<TCPConnection>.fromOpaque(data).takeUnretainedValue()
        if nread > 0, let base = buf?.pointee.base {
          connection.received(UnsafeRawBufferPointer(start: base, count: nread))
        } else if nread < 0 {
          connection.closeNow(why: "read ended: \(String(cString: uv_strerror(Int32(nread))))")
        }
      })
    if rc != 0 { closeNow(why: "cannot read: \(String(cString: uv_strerror(rc)))") }
  }

  private func received(_ bytes: UnsafeRawBufferPointer) {
    guard let session, !finishing else { return }
    lastHeard = engine.now
    let wasHandshaking = session.phase == .handshake
    session.receive(bytes)
    if wasHandshaking && session.phase == .open {
      timer?.cancel()
      timer = nil
      startKeepalive()
      onOpened?(self)
    }
  }

  /// Pings a client that has been silent for half the idle timeout, and closes one silent for all
  /// of it (with 1001), so dead peers do not hold connections open. Checked every quarter of the
  /// timeout: a client is pinged between half and three quarters of it into a silence, so it
  /// always has at least a quarter of the timeout to answer before it is closed.
  private func startKeepalive() {
    let idle = config.idleTimeoutMs
    let half = max(idle / 2, 1)
    let quarter = max(idle / 4, 1)
    keepalive = try? engine.schedule(after: quarter, every: quarter) { [unowned self] in
      let silent = self.engine.now &- self.lastHeard
      if silent >= idle {
        self.engine.sink(.info, "closing \(self.peer): silent for \(silent) ms")
        self.session?.close(.goingAway, reason: "no answer to keepalive pings")
        self.closeNow(why: "silent")
      } else if silent >= half {
        self.session?.ping()
      }
    }
  }

  /// Queues bytes. A client whose queue would pass the cap is a slow consumer: it is closed with
  /// 1008 (the close frame goes after its backlog), and it is never allowed to slow the others.
  func write(_ bytes: OutboundBytes) {
    guard !isClosed, bytes.count > 0 else { return }
    if overLimit {
      // Only the session's close frame still goes out, once.
      if closeFrameAllowed {
        closeFrameAllowed = false
        enqueue(bytes)
      }
      return
    }
    if queuedBytes + bytes.count > config.maxWriteQueueBytes { return overflow() }
    enqueue(bytes)
  }

  /// The client is a slow consumer: close it with 1008 (the close frame goes out after its
  /// backlog) and accept nothing more for it.
  private func overflow() {
    engine.sink(.info, "closing slow consumer \(peer): \(queuedBytes) bytes queued")
    overLimit = true
    closeFrameAllowed = true
    session?.close(.policyViolation, reason: "slow consumer: write queue over its limit")
    closeFrameAllowed = false
    finish()
  }

  /// Queues one frame's pieces together: over the queue limit, none of them is queued.
  func write(pieces: [OutboundBytes]) {
    guard !isClosed, !overLimit else { return }
    let total = pieces.reduce(0) { $0 + $1.count }
    if queuedBytes + total > config.maxWriteQueueBytes { return overflow() }
    for piece in pieces where piece.count > 0 { enqueue(piece) }
  }

  private var overLimit = false
  private var closeFrameAllowed = false
  /// Frames queued during this loop turn, written together (one writev) when the turn ends.
  private var outbox: [OutboundBytes] = []
  private var outboxBytes = 0

  /// A write in flight: the shared frames and the connection, all kept alive until libuv calls
  /// back (a cancelled write's callback may run after the connection was forgotten).
  private final class PendingWrite {
    let frames: [OutboundBytes]
    let count: Int
    let connection: TCPConnection
    init(_ frames: [OutboundBytes], count: Int, _ connection: TCPConnection) {
      self.frames = frames
      self.count = count
      self.connection = connection
    }
  }

  /// Queues a frame for the end of the turn; the first one asks the engine to flush this
  /// connection then. Many messages to one client in a turn cost one system call, and each is
  /// still the shared buffer every other subscriber writes too.
  private func enqueue(_ bytes: OutboundBytes) {
    if outbox.isEmpty { engine.flushAtTurnEnd(self) }
    outbox.append(bytes)
    outboxBytes += bytes.count
    queuedBytes += bytes.count
  }

  /// Writes the queued frames with one `uv_write` (a writev of the shared buffers).
  func flushOutbox() {
    guard !outbox.isEmpty else { return }
    let frames = outbox
    let count = outboxBytes
    outbox = []
    outboxBytes = 0
    guard !isClosed else { return }
    let pending = PendingWrite(frames, count: count, self)
    let request = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
    request.pointee.data = Unmanaged.passRetained(pending).toOpaque()
    let stream = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self)
    // libuv copies the buffer descriptors, so they may live on the stack for the call.
    let rc = withUnsafeTemporaryAllocation(of: uv_buf_t.self, capacity: frames.count) { buffers -> Int32 in
      for (i, frame) in frames.enumerated() {
        buffers.initializeElement(
          at: i, to: uv_buf_init(frame.base.assumingMemoryBound(to: CChar.self), UInt32(frame.count)))
      }
      return uv_write(request, stream, buffers.baseAddress, UInt32(frames.count)) { request, status in
        guard let request else { return }
        let pending = Unmanaged<PendingWrite>.fromOpaque(request.pointee.data).takeRetainedValue()
        request.deallocate()
        pending.connection.wrote(pending.count, status: status)
      }
    }
    if rc != 0 {
      Unmanaged<PendingWrite>.fromOpaque(request.pointee.data).release()
      request.deallocate()
      queuedBytes -= count
      closeNow(why: "cannot write: \(String(cString: uv_strerror(rc)))")
    }
  }

  private func wrote(_ count: Int, status: Int32) {
    let before = queuedBytes
    queuedBytes -= count
    if status < 0 {
      closeNow(why: "write failed: \(String(cString: uv_strerror(status)))")
    } else if finishing && queuedBytes == 0 {
      shutdownWrites()
    } else if before > TCPConnection.lowWaterBytes && queuedBytes <= TCPConnection.lowWaterBytes {
      session?.transportDrained()
    }
  }

  /// Below this backlog a connection counts as drained again (see `ProtocolSettings`).
  static let lowWaterBytes = 64 << 10

  var backlogBytes: Int { queuedBytes }

  /// Ends the connection gracefully: once the queued bytes are written, our side of the stream is
  /// shut down (FIN) and whatever the peer still sends is read and discarded until it closes too,
  /// or until the close timeout. Closing at once instead would make the kernel answer the peer's
  /// unread data with a reset, which destroys what we sent last (the close frame, the HTTP error).
  func finish() {
    guard !isClosed, !finishing else { return }
    finishing = true
    keepalive?.cancel()
    keepalive = nil
    timer?.cancel()
    timer = try? engine.schedule(after: config.closeTimeoutMs) { [unowned self] in
      self.closeNow(why: "the peer did not close within \(self.config.closeTimeoutMs) ms")
    }
    flushOutbox()
    if queuedBytes == 0 { shutdownWrites() }
  }

  private var shutdownStarted = false

  private func shutdownWrites() {
    guard !isClosed, !shutdownStarted else { return }
    shutdownStarted = true
    let request = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
    // The request keeps the connection alive until libuv is done with it.
    request.pointee.data = Unmanaged.passRetained(self).toOpaque()
    let stream = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self)
    let rc = uv_shutdown(request, stream) { request, status in
      guard let request else { return }
      let connection = Unmanaged<TCPConnection>.fromOpaque(request.pointee.data).takeRetainedValue()
      request.deallocate()
      if status < 0 { connection.closeNow(why: "shutdown failed: \(String(cString: uv_strerror(status)))") }
    }
    if rc != 0 {
      Unmanaged<TCPConnection>.fromOpaque(request.pointee.data).release()
      request.deallocate()
      closeNow(why: "cannot shut down: \(String(cString: uv_strerror(rc)))")
    }
  }

  /// Closes the socket now (pending writes are cancelled). `detached`: the owner is going away
  /// and must not be called back; libuv still frees the handle once it is closed.
  func closeNow(detached: Bool = false, why: @autoclosure () -> String = "closed by the server") {
    guard !isClosed else { return }
    // What this turn queued (a close frame, a goodbye) still gets its chance: libuv writes at
    // once what the socket takes before the close cancels the rest.
    flushOutbox()
    engine.sink(.debug, "connection \(peer) closed: \(why())")
    // Until libuv calls back, the handle owns a reference to the connection, so it outlives its
    // handle even if the engine forgets it first (at shutdown). Detached: nobody to call back.
    handle.pointee.data = detached ? nil : Unmanaged.passRetained(self).toOpaque()
    isClosed = true
    queuedBytes -= outboxBytes
    outbox = []
    outboxBytes = 0
    timer?.cancel()
    timer = nil
    keepalive?.cancel()
    keepalive = nil
    session?.transportClosed()
    uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { raw in
      guard let raw else { return }
      if let data = raw.pointee.data {
        let connection = Unmanaged<TCPConnection>.fromOpaque(data).takeRetainedValue()
        connection.onClosed?(connection)
      }
      UnsafeMutableRawPointer(raw).deallocate()
    }
  }

}
