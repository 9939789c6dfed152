import Testing

@testable import RealtimeCore

@Suite struct WebSocketSessionTests {
  private func open(
    _ config: SessionConfig = SessionConfig(), extra: String = ""
  ) -> (WebSocketSession, RecordingTransport, Box) {
    let transport = RecordingTransport()
    let session = WebSocketSession(config: config, transport: transport)
    let box = Box()
    session.application = box
    upgrade(extra: extra).withUnsafeBytes { session.receive($0) }
    return (session, transport, box)
  }

  /// Records what the session hands its application.
  final class Box: WebSocketApplication {
    var opened = 0
    var messages: [WebSocketEvent] = []
    var endings: [WebSocketSession.Ending] = []
    func sessionOpened(_ session: WebSocketSession) { opened += 1 }
    func session(_ session: WebSocketSession, received message: WebSocketEvent) { messages.append(message) }
    func sessionEnded(_ session: WebSocketSession, _ ending: WebSocketSession.Ending) { endings.append(ending) }
    func serverGoingAway(_ session: WebSocketSession) {}
  }

  @Test func upgradesThenEchoesPingsAndDeliversMessages() throws {
    let (session, transport, box) = open()
    #expect(session.phase == .open)
    #expect(transport.text.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
    #expect(transport.text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"))
    _ = transport.take()

    clientFrame(0x1, Array("héllo".utf8)).withUnsafeBytes { session.receive($0) }
    clientFrame(0x9, [7, 7]).withUnsafeBytes { session.receive($0) }
    #expect(box.messages == [.text(Array("héllo".utf8))])
    #expect(try serverEvents(transport.take()) == [.pong([7, 7])])

    session.send(.binary, [1, 2, 3])
    #expect(try serverEvents(transport.take()) == [.binary([1, 2, 3])])
  }

  @Test func aPeerCloseIsEchoedAndEndsTheConnection() throws {
    let (session, transport, box) = open()
    _ = transport.take()
    clientFrame(0x8, [0x03, 0xE8] + Array("bye".utf8)).withUnsafeBytes { session.receive($0) }
    #expect(try serverEvents(transport.take()) == [.close(.normal, [])])
    #expect(transport.finished)
    #expect(session.phase == .closed)
    #expect(box.endings == [.closed(.normal, initiatedByPeer: true)])
    clientFrame(0x1, [65]).withUnsafeBytes { session.receive($0) }
    #expect(box.messages.isEmpty, "nothing is delivered after the close")
  }

  @Test func aServerCloseWaitsForThePeersClose() throws {
    let (session, transport, box) = open()
    _ = transport.take()
    session.close(.goingAway, reason: "restart")
    #expect(try serverEvents(transport.take()) == [.close(.goingAway, Array("restart".utf8))])
    #expect(session.phase == .closing && !transport.finished)
    session.send(.text, [65])
    #expect(transport.written.isEmpty, "no data after our close frame")
    clientFrame(0x8, [0x03, 0xE9]).withUnsafeBytes { session.receive($0) }
    #expect(transport.finished)
    #expect(transport.written.isEmpty, "our close was already sent")
    #expect(box.endings == [.closed(.goingAway, initiatedByPeer: false)])
  }

  @Test func theFirstFrameMayArriveWithTheHandshake() throws {
    let transport = RecordingTransport()
    let session = WebSocketSession(config: SessionConfig(), transport: transport)
    let box = Box()
    session.application = box
    (upgrade() + clientFrame(0x2, [9, 8])).withUnsafeBytes { session.receive($0) }
    #expect(box.opened == 1)
    #expect(box.messages == [.binary([9, 8])])
  }

  @Test func aProtocolViolationClosesWithItsCode() throws {
    let (session, transport, box) = open()
    _ = transport.take()
    let unmasked: [UInt8] = [0x81, 0x01, 0x41]
    unmasked.withUnsafeBytes { session.receive($0) }
    #expect(
      try serverEvents(transport.take()).first == .close(.protocolError, Array("client frames must be masked".utf8)))
    #expect(transport.finished)
    if case .failed(let code, _) = box.endings.first {
      #expect(code == .protocolError)
    } else {
      Issue.record("expected a failure ending, got \(box.endings)")
    }
  }

  @Test func invalidUTF8ClosesWith1007() throws {
    let (session, transport, _) = open()
    _ = transport.take()
    clientFrame(0x1, [0xC3, 0x28]).withUnsafeBytes { session.receive($0) }
    guard case .close(let code, _) = try serverEvents(transport.take()).first else {
      Issue.record("no close frame")
      return
    }
    #expect(code == .invalidPayload)
  }

  @Test func otherPathsGet404AndNothingElse() {
    let transport = RecordingTransport()
    let session = WebSocketSession(config: SessionConfig(), transport: transport)
    upgrade(path: "/nope").withUnsafeBytes { session.receive($0) }
    #expect(transport.text.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
    #expect(transport.finished)
    #expect(session.ending == .refused(status: 404, reason: "no WebSocket endpoint at /nope; it is at /ws"))
  }

  @Test func originsOutsideTheAllowlistGet403() {
    var config = SessionConfig()
    config.allowedOrigins = ["https://app.example"]
    let (allowed, _, _) = open(config, extra: "Origin: https://app.example\r\n")
    #expect(allowed.phase == .open)
    let (refused, transport, _) = open(config, extra: "Origin: https://evil.example\r\n")
    #expect(refused.phase == .closed)
    #expect(transport.text.hasPrefix("HTTP/1.1 403 Forbidden\r\n"))
    let (noOrigin, _, _) = open(config)
    #expect(noOrigin.phase == .open, "non-browser clients send no Origin")
  }

  @Test func aBroadcastFrameIsEncodedOnceAndSharedByEverySession() throws {
    let sessions = (0..<3).map { _ in open() }
    for (_, transport, _) in sessions { _ = transport.take() }
    let frame = Array("to everyone".utf8).withUnsafeBytes { FrameEncoder.encoded(.text, $0) }
    for (session, _, _) in sessions { session.sendEncoded(frame) }
    for (_, transport, _) in sessions {
      #expect(transport.buffers.last == ObjectIdentifier(frame), "the same buffer, not a copy")
      #expect(try serverEvents(transport.take()) == [.text(Array("to everyone".utf8))])
    }
  }

  @Test func theAuthHookSeesTheTokenFromTheQueryOrBearerAndDecides() {
    var config = SessionConfig()
    config.authenticate = { request in
      switch request.token {
      case nil: .deny(status: 401, message: "log in first")
      case "good": .allow(nil)
      default: .deny(status: 403, message: "not you")
      }
    }
    func attempt(_ path: String, _ extra: String = "") -> String {
      let transport = RecordingTransport()
      let session = WebSocketSession(config: config, transport: transport)
      upgrade(path: path, extra: extra).withUnsafeBytes { session.receive($0) }
      return String(transport.text.split(separator: "\r\n").first ?? "")
    }
    #expect(attempt("/ws?token=good") == "HTTP/1.1 101 Switching Protocols")
    #expect(attempt("/ws?room=1&token=good") == "HTTP/1.1 101 Switching Protocols")
    #expect(attempt("/ws", "Authorization: Bearer good\r\n") == "HTTP/1.1 101 Switching Protocols")
    #expect(attempt("/ws?token=evil") == "HTTP/1.1 403 Forbidden")
    #expect(attempt("/ws") == "HTTP/1.1 401 Unauthorized")
  }

  @Test func anOversizedHeadGets431() {
    var config = SessionConfig()
    config.http = HTTPLimits(maxHeadBytes: 256)
    let transport = RecordingTransport()
    let session = WebSocketSession(config: config, transport: transport)
    let head = Array("GET /ws HTTP/1.1\r\nX-Pad: \(String(repeating: "a", count: 400))\r\n".utf8)
    for byte in head { [byte].withUnsafeBytes { session.receive($0) } }
    #expect(transport.text.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
    #expect(session.phase == .closed)
  }
}
