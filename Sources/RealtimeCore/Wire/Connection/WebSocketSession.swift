/// Where a session's bytes go: a TCP connection on the loop, or a host's output callback when the
/// host owns the socket. Both modes run the same session.
protocol SessionTransport: AnyObject {
  /// Queues bytes for the peer, in order. The transport keeps a reference, never a copy.
  func write(_ bytes: OutboundBytes)
  /// Queues the pieces of one frame, all or none (a frame is never cut by a queue limit).
  func write(pieces: [OutboundBytes])
  /// Ends the connection once queued bytes are written.
  func finish()
  /// Bytes handed over and not yet taken by the peer's socket (0 where the host writes).
  var backlogBytes: Int { get }
}

/// What runs on an open WebSocket session: the application protocol (`ProtocolSession`), or a
/// test's recorder. The session holds it strongly until the session ends. Loop-thread only.
protocol WebSocketApplication: AnyObject {
  /// The opening handshake succeeded.
  func sessionOpened(_ session: WebSocketSession)
  /// A complete text or binary message arrived.
  func session(_ session: WebSocketSession, received message: WebSocketEvent)
  /// The session ended (called once); the session lets go of its application afterwards.
  func sessionEnded(_ session: WebSocketSession, _ ending: WebSocketSession.Ending)
  /// The server is shutting down: tell the client in the application protocol (the session
  /// sends its close frame right after).
  func serverGoingAway(_ session: WebSocketSession)
  /// The transport's backlog fell below its low-water mark after having been above it.
  func sessionDrained(_ session: WebSocketSession)
}

extension WebSocketApplication {
  func sessionDrained(_ session: WebSocketSession) {}
}

/// One WebSocket connection's protocol engine, bytes in and bytes out, with no I/O of its own:
/// the HTTP upgrade, then frames, pings, the closing handshake, and every violation answered with
/// the right HTTP status or close code. Loop-thread only.
final class WebSocketSession {
  enum Phase: Equatable {
    case handshake
    case open
    /// We sent a close frame and wait for the peer's.
    case closing
    case closed
  }

  /// Why a session ended, for the owner's bookkeeping and logs.
  enum Ending: Equatable {
    /// A plain HTTP request answered by the host's handler.
    case answered(status: Int)
    case refused(status: Int, reason: String)
    case closed(CloseCode?, initiatedByPeer: Bool)
    case failed(CloseCode, reason: String)
    case transportLost
  }

  private(set) var phase = Phase.handshake
  private(set) var request: Handshake.Request?
  /// Who the client is, if the authentication hook said (at the upgrade or at `connect`).
  var identity: Identity?
  /// With token auth: when the upgrade's access token expires (seconds since 1970), and its
  /// session; or, for an authentic token that can no longer be used, the close to end with.
  private(set) var tokenExpiresAt: Int64?
  private(set) var tokenSessionID: String?
  private(set) var tokenEnd: (CloseCode, String)?

  /// A `refresh` message brought a new access token for this connection.
  func renewToken(expiresAt: Int64, sessionID: String?) {
    tokenExpiresAt = expiresAt
    tokenSessionID = sessionID
  }
  private(set) var ending: Ending?
  private let config: SessionConfig
  /// The transport owns this session and ends it (`transportClosed`, or `end` before `finish`)
  /// before it goes away; every path to it checks the phase first. Checked `unowned`: were that
  /// ever broken, the process stops at the access instead of writing through freed memory.
  private unowned let transport: SessionTransport
  /// The request head parser; dropped (with its buffer) once the handshake is over.
  private var http: HTTPHeadParser?
  private var frames: FrameParser
  /// The application protocol on top; gets the messages once the session is open.
  var application: WebSocketApplication?

  init(config: SessionConfig, transport: SessionTransport) {
    self.config = config
    self.transport = transport
    self.http = HTTPHeadParser(limits: config.http)
    self.frames = FrameParser(maxMessageBytes: config.maxMessageBytes)
  }

  /// Feeds bytes from the peer.
  func receive(_ bytes: UnsafeRawBufferPointer) {
    switch phase {
    case .handshake: receiveHandshake(bytes)
    case .open, .closing: receiveFrames(bytes)
    case .closed: return
    }
  }

  /// Sends a text or binary message (ignored unless open).
  func send(_ opcode: Opcode, _ payload: [UInt8]) {
    guard phase == .open, opcode == .text || opcode == .binary else { return }
    transport.write(payload.withUnsafeBytes { FrameEncoder.encoded(opcode, $0) })
  }

  /// Sends an already-encoded frame (a broadcast encoded once for many sessions).
  func sendEncoded(_ frame: OutboundBytes) {
    guard phase == .open else { return }
    transport.write(frame)
  }

  /// Sends one frame given as pieces (header first) that other frames share.
  func sendPieces(_ pieces: [OutboundBytes]) {
    guard phase == .open else { return }
    transport.write(pieces: pieces)
  }

  /// Sends a ping (keepalive).
  func ping(_ payload: [UInt8] = []) {
    guard phase == .open else { return }
    transport.write(Array(payload.prefix(125)).withUnsafeBytes { FrameEncoder.encoded(.ping, $0) })
  }

  /// Starts the closing handshake: sends a close frame and waits for the peer's.
  func close(_ code: CloseCode, reason: String = "") {
    switch phase {
    case .open:
      transport.write(FrameEncoder.encodedClose(code, reason: reason))
      phase = .closing
    case .handshake:
      end(.failed(code, reason: reason))
      transport.finish()
    case .closing, .closed:
      return
    }
  }

  /// The server is shutting down: the application says goodbye in its protocol, or the session
  /// closes with 1001.
  func goAway() {
    if phase == .open, let application {
      application.serverGoingAway(self)
    }
    close(.goingAway, reason: "server shutting down")
  }

  /// Bytes written to the peer and not yet taken by its socket.
  var backlogBytes: Int { phase == .closed ? 0 : transport.backlogBytes }

  /// The transport drained its backlog: the application may send what it held back.
  func transportDrained() {
    guard phase == .open else { return }
    application?.sessionDrained(self)
  }

  /// The connection went away without a closing handshake.
  func transportClosed() {
    guard phase != .closed else { return }
    end(.transportLost)
  }

  private func receiveHandshake(_ bytes: UnsafeRawBufferPointer) {
    do throws(HTTPError) {
      // Taken out while it parses, so its buffer is never shared (and copied) on append.
      guard var parser = http.take() else { return }
      guard let (head, used) = try parser.feed(bytes) else {
        http = parser
        return
      }
      guard head.path == config.path else {
        let info = HTTPRequestInfo(method: head.method, path: String(head.path), query: head.query.map(String.init))
        if let response = config.httpHandler?(info) {
          return answer(response, to: head.method)
        }
        throw HTTPError(404, "no WebSocket endpoint at \(head.path); it is at \(config.path)")
      }
      let request = try Handshake.validate(head)
      if let allowed = config.allowedOrigins, let origin = request.origin, !allowed.contains(origin) {
        throw HTTPError(403, "origin \(origin) is not allowed")
      }
      var askHook = true
      if config.tokenAuth != .off, let gate = config.tokenGate {
        switch gate.check(Self.token(in: head), mode: config.tokenAuth) {
        case .absent: break
        case .identified(let who, let sessionID, let expiresAt):
          (identity, tokenSessionID, tokenExpiresAt, askHook) = (who, sessionID, expiresAt, false)
        case .ended(let code, let reason): (tokenEnd, askHook) = ((code, reason), false)
        case .refused(let message): throw HTTPError(401, message)
        }
      }
      if askHook, let authenticate = config.authenticate {
        let decision = authenticate(
          AuthRequest(token: Self.token(in: head), origin: request.origin, path: request.path))
        switch decision {
        case .deny(let status, let message): throw HTTPError(status == 401 ? 401 : 403, message)
        case .allow(let who): identity = who
        }
      }
      self.request = request
      transport.write(OutboundBytes(Handshake.switchingProtocols(key: request.key)))
      phase = .open
      application?.sessionOpened(self)
      if used < bytes.count { receiveFrames(UnsafeRawBufferPointer(rebasing: bytes[used...])) }
    } catch {
      refuse(error)
    }
  }

  /// The client's credential: `token` in the query, else `Authorization: Bearer`.
  static func token(in head: HTTPRequestHead) -> String? {
    if let query = head.query {
      for pair in query.split(separator: "&") where pair.hasPrefix("token=") {
        return String(pair.dropFirst(6))
      }
    }
    let authorizations = head.values("authorization")
    if authorizations.count == 1, authorizations[0].lowercased().hasPrefix("bearer ") {
      return String(authorizations[0].dropFirst(7).drop { $0 == " " })
    }
    return nil
  }

  /// Sends a plain HTTP answer from the host's handler and ends the connection.
  private func answer(_ response: HTTPResponse, to method: String) {
    var head = "HTTP/1.1 \(response.status) \(HTTPError(response.status, "").reason)\r\n"
    head += "Content-Type: \(response.contentType)\r\nContent-Length: \(response.body.count)\r\n"
    head += "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"
    transport.write(OutboundBytes(Array(head.utf8) + (method == "HEAD" ? [] : response.body)))
    end(.answered(status: response.status))
    transport.finish()
  }

  /// Answers a request that will not become a WebSocket and ends the connection.
  func refuse(_ error: HTTPError) {
    guard phase == .handshake else { return }
    transport.write(OutboundBytes(Handshake.refusal(error)))
    end(.refused(status: error.status, reason: error.message))
    transport.finish()
  }

  private func receiveFrames(_ bytes: UnsafeRawBufferPointer) {
    do throws(FrameError) {
      try frames.feed(bytes) { event in self.handle(event) }
    } catch {
      fail(error.code, error.message)
    }
  }

  private func handle(_ event: WebSocketEvent) {
    guard phase == .open || phase == .closing else { return }
    switch event {
    case .ping(let payload):
      if phase == .open { transport.write(payload.withUnsafeBytes { FrameEncoder.encoded(.pong, $0) }) }
    case .pong:
      break
    case .close(let code, _):
      if phase == .open {
        // Echo the peer's code (RFC 6455 §5.5.1); a close without a code is answered with none.
        transport.write(
          code.map { FrameEncoder.encodedClose($0) }
            ?? FrameEncoder.encoded(.close, UnsafeRawBufferPointer(start: nil, count: 0)))
      }
      end(.closed(code, initiatedByPeer: phase == .open))
      transport.finish()
    case .text, .binary:
      if phase == .open { application?.session(self, received: event) }
    }
  }

  /// Fails the connection (RFC 6455 §7.1.7): a close frame with the code, then the end.
  private func fail(_ code: CloseCode, _ reason: String) {
    // Once our close frame is out, nothing more may be sent, not even a second close.
    if phase == .open {
      transport.write(FrameEncoder.encodedClose(code, reason: reason))
    }
    end(.failed(code, reason: reason))
    transport.finish()
  }

  private func end(_ how: Ending) {
    guard phase != .closed else { return }
    phase = .closed
    ending = how
    let application = self.application
    self.application = nil
    application?.sessionEnded(self, how)
  }
}
