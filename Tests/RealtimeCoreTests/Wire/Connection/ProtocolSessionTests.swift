import Testing

@testable import RealtimeCore

/// A scheduler whose timers fire only when the test says so.
final class FakeTimers {
  final class Timer: Cancellable {
    let delay: UInt64
    let body: () -> Void
    var cancelled = false
    init(delay: UInt64, body: @escaping () -> Void) {
      self.delay = delay
      self.body = body
    }
    func cancel() { cancelled = true }
  }
  var timers: [Timer] = []
  var scheduler: Scheduler {
    { [unowned self] delay, body in
      let timer = Timer(delay: delay, body: body)
      self.timers.append(timer)
      return timer
    }
  }
  func fireAll() {
    for timer in timers where !timer.cancelled { timer.body() }
  }
}

/// A WebSocket session with the protocol on top, fed client frames, read back as envelopes.
struct Harness {
  let transport = RecordingTransport()
  let timers = FakeTimers()
  let socket: WebSocketSession
  let session: ProtocolSession

  init(
    authenticate: AuthHook? = nil, connectTimeoutMs: UInt64 = 10_000, router: Router? = nil, maxHeld: Int = 1024,
    maxBatchBytes: Int = 64 << 10, requestFlush: ((ProtocolSession) -> Void)? = nil, access: Access? = nil,
    documents: DocumentHub? = nil
  ) {
    var config = SessionConfig()
    config.maxMessageBytes = 4096
    socket = WebSocketSession(config: config, transport: transport)
    var settings = ProtocolSettings(
      limits: EnvelopeLimits(), connectTimeoutMs: connectTimeoutMs, pingIntervalMs: 30_000, maxMessageBytes: 4096,
      authenticate: authenticate)
    settings.maxHeldMessages = maxHeld
    settings.maxBatchBytes = maxBatchBytes
    settings.access = access
    session = ProtocolSession(
      id: 0x2a, settings: settings, router: router, documents: documents, requestFlush: requestFlush,
      schedule: timers.scheduler)
    socket.application = session
    upgrade().withUnsafeBytes { socket.receive($0) }
    _ = transport.take()
  }

  func send(_ text: String) { clientFrame(0x1, Array(text.utf8)).withUnsafeBytes { socket.receive($0) } }
  func send(binary: [UInt8]) { clientFrame(0x2, binary).withUnsafeBytes { socket.receive($0) } }

  /// What the server sent since the last call, each message decoded from its own encoding.
  func replies() throws -> [Reply] {
    try serverEvents(transport.take()).map { event in
      switch event {
      case .text(let bytes): .json(try JSONEnvelopeReader.decode(bytes))
      case .binary(let bytes): .binary(try BinaryEnvelopeReader.decode(bytes))
      case .close(let code, _): .close(code)
      default: .other
      }
    }
  }

  enum Reply: Equatable {
    case json(Envelope)
    case binary(Envelope)
    case close(CloseCode?)
    case other

    var envelope: Envelope? {
      switch self {
      case .json(let e), .binary(let e): e
      default: nil
      }
    }
  }
}

@Suite struct ProtocolSessionTests {
  @Test func connectIsAnsweredWithConnected() throws {
    let h = Harness()
    h.send(#"{"type":"connect","id":1,"v":1,"client":"test/1"}"#)
    var expected = Envelope(.connected, id: 1)
    expected.version = 1
    expected.session = "2a"
    expected.server = "realtimecore"
    expected.pingIntervalMs = 30_000
    expected.maxMessageBytes = 4096
    #expect(try h.replies() == [.json(expected)])
    #expect(h.session.state == .connected)
    #expect(h.session.clientName == "test/1")
    #expect(h.timers.timers.count == 1 && h.timers.timers[0].cancelled, "the connect timer is called off")
  }

  @Test func pingsAreAnsweredInTheirOwnEncodingBeforeAndAfterConnect() throws {
    let h = Harness()
    h.send(#"{"type":"ping","id":5,"data":{"n":[1,2]}}"#)
    var pong = Envelope(.pong, id: 5)
    pong.data = ArraySlice(#"{"n":[1,2]}"#.utf8)
    pong.dataIsJSON = true
    #expect(try h.replies() == [.json(pong)])

    h.send(binary: [1, 1])  // connect in binary: the session's own messages go out in binary
    #expect(try h.replies().first?.envelope?.type == .connected)
    h.send(binary: [1, 3, 0x08, 6, 0x2A, 3, 0, 1, 2])
    var binaryPong = Envelope(.pong, id: 6)
    binaryPong.data = [0, 1, 2]
    #expect(try h.replies() == [.binary(binaryPong)])
    h.send(#"{"type":"ping"}"#)
    #expect(try h.replies() == [.json(Envelope(.pong))])

    h.socket.goAway()
    let goodbye = try h.replies()
    guard case .binary(let farewell) = goodbye.first else {
      Issue.record("expected a binary disconnect, got \(goodbye)")
      return
    }
    #expect(farewell.type == .disconnect && farewell.code == 1001 && farewell.reconnect == true)
    #expect(goodbye.last == .close(.goingAway))
  }

  @Test func badMessagesGetErrorsAndTheSessionGoesOn() throws {
    let h = Harness()
    h.send(#"{"type":"ping","id":3,"data":[1,}"#)
    h.send(#"{"type":"pong","id":4}"#)
    h.send(#"{"type":"fly","id":5}"#)
    h.send(binary: [9, 9])
    let errors = try h.replies().compactMap(\.envelope)
    #expect(errors.map(\.type) == [.error, .error, .error, .error])
    #expect(errors.map(\.id) == [3, 4, 5, nil])
    #expect(
      errors.map { $0.code.map(ProtocolErrorCode.init(rawValue:)) }
        == [.badRequest, .unknownType, .unknownType, .unsupportedVersion])
    #expect(errors[0].message?.contains("byte") == true)
    h.send(#"{"type":"connect"}"#)
    #expect(try h.replies().first?.envelope?.type == .connected)
    h.send(#"{"type":"connect","id":8}"#)
    let again = try h.replies().first?.envelope
    #expect(again?.code == ProtocolErrorCode.alreadyConnected.rawValue && again?.id == 8)
  }

  @Test func anUnsupportedVersionIsRefusedForGood() throws {
    let h = Harness()
    h.send(#"{"type":"connect","id":1,"v":2}"#)
    let replies = try h.replies()
    #expect(replies.count == 3)
    #expect(replies[0].envelope?.code == ProtocolErrorCode.unsupportedVersion.rawValue)
    #expect(replies[1].envelope?.type == .disconnect)
    #expect(replies[1].envelope?.code == 4002 && replies[1].envelope?.reconnect == false)
    #expect(replies[2] == .close(DisconnectCode.unsupportedVersion))
  }

  @Test func noConnectWithinTheTimeoutEndsTheSession() throws {
    let h = Harness(connectTimeoutMs: 1234)
    #expect(h.timers.timers.map(\.delay) == [1234])
    h.timers.fireAll()
    let replies = try h.replies()
    #expect(replies.first?.envelope?.code == 4004 && replies.first?.envelope?.reconnect == true)
    #expect(replies.last == .close(DisconnectCode.connectTimeout))
    #expect(h.socket.phase == .closing)
  }

  @Test func aConnectTokenGoesThroughTheAuthenticationHook() throws {
    let hook: AuthHook = { request in
      request.token == "good"
        ? .allow(Identity(user: "ada", device: "phone")) : .deny(status: 401, message: "bad token")
    }
    let allowed = Harness(authenticate: hook)
    allowed.send(#"{"type":"connect","token":"good"}"#)
    #expect(try allowed.replies().first?.envelope?.type == .connected)

    let refused = Harness(authenticate: hook)
    refused.send(#"{"type":"connect","id":2,"token":"forged"}"#)
    let replies = try refused.replies()
    #expect(replies.first?.envelope?.code == ProtocolErrorCode.unauthorized.rawValue)
    #expect(replies.first?.envelope?.message == "bad token")
    #expect(replies.dropFirst().first?.envelope?.code == 4003)
    #expect(replies.last == .close(DisconnectCode.unauthorized))
  }
}

extension Harness: @unchecked Sendable {}

/// Slow consumers: a client whose socket is behind gets its channel messages held back, then,
/// when the hold queue is full, its channel's policy applies. Driven through a real router; the
/// session is confined to the loop thread like in the server, so every step runs there.
@Suite struct SlowConsumerTests {
  private func harness(_ policy: SlowConsumerPolicy) throws -> (Core, Harness) {
    let core = try Core(config: CoreConfig(databasePath: nil, durability: .off))
    try core.start()
    try core.configure(
      namespace: "t", NamespaceOptions(persistent: false, historySize: 100, slowConsumer: policy))
    let h = try core.perform { engine in Harness(router: engine.router, maxHeld: 3) }
    try core.perform { _ in
      h.send(#"{"type":"connect"}"#)
      h.send(#"{"type":"subscribe","channel":"t:x"}"#)
      _ = try? h.replies()
      h.transport.backlogBytes = 1 << 20
    }
    return (core, h)
  }

  private func publish(_ core: Core, _ count: Int) throws {
    for n in 1...count { _ = try core.publish(channel: "t:x", data: Array("\(n)".utf8), dataIsJSON: true) }
  }

  private func drain(_ core: Core, _ h: Harness) throws -> [Harness.Reply] {
    try core.perform { _ throws(RealtimeError) in
      h.transport.backlogBytes = 0
      h.socket.transportDrained()
      do { return try h.replies() } catch { throw RealtimeError(.internal, "\(error)") }
    }
  }

  @Test func heldMessagesFollowOnceTheSocketDrains() throws {
    let (core, h) = try harness(.disconnect)
    defer { try? core.close() }
    try publish(core, 3)
    #expect(try core.perform { _ in (try? h.replies())?.isEmpty ?? false }, "held back while the socket is behind")
    #expect(try drain(core, h).compactMap(\.envelope?.offset) == [1, 2, 3])
  }

  /// A recovery obeys the socket's backlog like live messages (it used to be written at once,
  /// however long, and a long one closed the client with 1008), but is not cut by the hold
  /// queue's limit: a client recovering a gap longer than the queue must not be disconnected, or
  /// it would reconnect to recover the same gap, forever.
  @Test func aLongRecoveryIsHeldBackWithoutTrippingTheLimit() throws {
    // The first harness stays alive: its session is subscribed and its transport must outlive it.
    let (core, first) = try harness(.disconnect)
    defer {
      try? core.close()
      withExtendedLifetime(first) {}
    }
    let epoch = try core.history(channel: "t:x").epoch
    try publish(core, 50)
    let late = try core.perform { engine in Harness(router: engine.router, maxHeld: 3) }
    try core.perform { _ in
      late.send(#"{"type":"connect"}"#)
      _ = try? late.replies()
      late.transport.backlogBytes = 1 << 20
      late.send(#"{"type":"subscribe","channel":"t:x","epoch":"\#(epoch)","offset":0}"#)
    }
    _ = try core.publish(channel: "t:x", data: Array("51".utf8), dataIsJSON: true)
    let whileBehind = try core.perform { _ in ((try? late.replies()) ?? []).compactMap(\.envelope) }
    #expect(whileBehind.map(\.type) == [.subscribed], "the replay waits for the socket to drain")
    #expect(whileBehind.first?.recovered == true)
    let messages = try drain(core, late).compactMap(\.envelope)
    #expect(messages.map(\.type).allSatisfy { $0 == .message })
    #expect(messages.map(\.offset) == (1...51).map { Optional(UInt64($0)) })
  }

  @Test func theDisconnectPolicyEndsTheSessionWith4005() throws {
    let (core, h) = try harness(.disconnect)
    defer { try? core.close() }
    try publish(core, 4)
    let replies = try core.perform { _ in (try? h.replies()) ?? [] }
    #expect(replies.first?.envelope?.type == .disconnect)
    #expect(replies.first?.envelope?.code == 4005 && replies.first?.envelope?.reconnect == true)
    #expect(replies.last == .close(DisconnectCode.slowConsumer))
  }

  @Test func theDropOldestPolicyReportsTheGapBeforeTheNextMessage() throws {
    let (core, h) = try harness(.dropOldest)
    defer { try? core.close() }
    try publish(core, 6)
    let replies = try drain(core, h).compactMap(\.envelope)
    #expect(replies.map(\.type) == [.gap, .message, .message, .message])
    #expect(replies.first?.after == 0 && replies.first?.before == 4 && replies.first?.channel == "t:x")
    #expect(replies.dropFirst().map(\.offset) == [4, 5, 6])
  }

  private func publishKeyed(_ core: Core, _ keys: [String?]) throws {
    for (n, key) in keys.enumerated() {
      _ = try core.publish(channel: "t:x", data: Array("\(n + 1)".utf8), dataIsJSON: true, coalesceKey: key)
    }
  }

  @Test func theCoalescePolicyKeepsTheNewestHeldMessagePerKey() throws {
    let (core, h) = try harness(.coalesce)
    defer { try? core.close() }
    // Offsets 1-6: a b a b a c; held for a socket that is behind, a's 1 and 3 and b's 2 are superseded.
    try publishKeyed(core, ["a", "b", "a", "b", "a", "c"])
    let replies = try drain(core, h).compactMap(\.envelope)
    #expect(replies.map(\.type) == [.gap, .message, .message, .message])
    #expect(replies.first?.after == 0 && replies.first?.before == 4 && replies.first?.reason == "coalesced")
    #expect(replies.dropFirst().map(\.offset) == [4, 5, 6])
    #expect(replies.dropFirst().map(\.key) == ["b", "a", "c"], "live messages carry their key")
  }

  /// A superseded message can lie after one still held (a b b: b's first copy, offset 2, goes,
  /// and a, offset 1, stays): its gap comes before the message that replaced it, not before a.
  @Test func aCoalescedGapIsReportedBeforeTheMessageThatReplacedIt() throws {
    let (core, h) = try harness(.coalesce)
    defer { try? core.close() }
    try publishKeyed(core, ["a", "b", "b"])
    let replies = try drain(core, h).compactMap(\.envelope)
    #expect(replies.map(\.type) == [.message, .gap, .message])
    #expect(replies.map(\.offset) == [1, nil, 3])
    #expect(replies[1].after == 1 && replies[1].before == 3 && replies[1].reason == "coalesced")
  }

  @Test func unkeyedMessagesOfACoalesceChannelAreDroppedOldestFirstWhenTheQueueIsFull() throws {
    let (core, h) = try harness(.coalesce)
    defer { try? core.close() }
    try publishKeyed(core, [nil, nil, nil, nil, "k", "k"])
    let replies = try drain(core, h).compactMap(\.envelope)
    // 1-3 held, 4 pushes 1 out, 5 pushes 2 out, 6 replaces 5.
    #expect(replies.map(\.type) == [.gap, .message, .message, .gap, .message])
    #expect(replies[0].after == 0 && replies[0].before == 3 && replies[0].reason == nil)
    #expect(replies[3].after == 4 && replies[3].before == 6 && replies[3].reason == "coalesced")
    #expect(replies.compactMap(\.offset) == [3, 4, 6])
  }

  @Test func aCoalescingKeyOutOfRangeIsRefused() throws {
    let (core, _) = try harness(.coalesce)
    defer { try? core.close() }
    for key in ["", String(repeating: "k", count: 129)] {
      #expect(throws: RealtimeError.self) { try core.publish(channel: "t:x", data: [], coalesceKey: key) }
    }
  }
}

/// Batching clients get a turn's channel messages in one frame: a JSON array, or the binary batch
/// form, built from the messages' shared encodings.
@Suite struct BatchTests {
  final class Flushes: @unchecked Sendable {
    var sessions: [ProtocolSession] = []
  }

  private func batchingHarness(binary: Bool, maxBatchBytes: Int = 64 << 10) throws -> (Core, Harness, Flushes) {
    let core = try Core(config: CoreConfig(databasePath: nil, durability: .off))
    try core.start()
    try core.configure(namespace: "t", NamespaceOptions(persistent: false, historySize: 100))
    let flushes = Flushes()
    let h = try core.perform { engine in
      Harness(router: engine.router, maxBatchBytes: maxBatchBytes) { flushes.sessions.append($0) }
    }
    try core.perform { _ in
      if binary {
        h.send(binary: [1, 1, 0xC8, 0x01, 1])  // connect, batch (field 25) = 1
        h.send(binary: [1, 7, 0x7A, 3] + Array("t:x".utf8))
      } else {
        h.send(#"{"type":"connect","batch":true}"#)
        h.send(#"{"type":"subscribe","channel":"t:x"}"#)
      }
    }
    return (core, h, flushes)
  }

  /// Publishes `count` messages within one loop turn, then ends the turn's batches.
  private func publishInOneTurn(_ core: Core, _ h: Harness, _ flushes: Flushes, _ count: Int) throws -> [UInt8] {
    try core.perform { engine in
      _ = h.transport.take()
      for n in 1...count {
        engine.router.publish(
          channel: "t:x", data: Array("{\"n\":\(n)}".utf8), dataIsJSON: true, idempotencyKey: nil
        ) { _ in }
      }
      for session in flushes.sessions { session.flushBatch() }
      flushes.sessions = []
      return h.transport.take()
    }
  }

  @Test func aTurnsMessagesArriveAsOneJSONArray() throws {
    let (core, h, flushes) = try batchingHarness(binary: false)
    defer { try? core.close() }
    let connected = try core.perform { _ in (try? h.replies()) ?? [] }
    #expect(connected.first?.envelope?.batch == true)
    let events = try serverEvents(try publishInOneTurn(core, h, flushes, 3))
    #expect(events.count == 1)
    guard case .text(let text) = events.first else {
      Issue.record("expected one text frame: \(events)")
      return
    }
    let string = String(decoding: text, as: UTF8.self)
    #expect(string.hasPrefix("[{\"type\":\"message\"") && string.hasSuffix("}]"))
    #expect(string.components(separatedBy: "\"type\":\"message\"").count == 4)
    for n in 1...3 { #expect(string.contains("\"offset\":\(n),") && string.contains("\"data\":{\"n\":\(n)}")) }
    // One message alone is a plain frame.
    let single = try serverEvents(try publishInOneTurn(core, h, flushes, 1))
    guard case .text(let one) = single.first else {
      Issue.record("expected a text frame")
      return
    }
    #expect(try JSONEnvelopeReader.decode(one).offset == 4)
  }

  @Test func aTurnsMessagesArriveAsOneBinaryBatch() throws {
    let (core, h, flushes) = try batchingHarness(binary: true)
    defer { try? core.close() }
    let events = try serverEvents(try publishInOneTurn(core, h, flushes, 3))
    guard events.count == 1, case .binary(let bytes) = events[0] else {
      Issue.record("expected one binary frame: \(events)")
      return
    }
    #expect(Array(bytes.prefix(2)) == [1, 0])
    var offsets: [UInt64?] = []
    var i = 2
    while i < bytes.count {
      let length = Int(bytes[i])  // each message here is shorter than 128 bytes
      let message = try BinaryEnvelopeReader.decode(Array(bytes[(i + 1)..<(i + 1 + length)]))
      #expect(message.type == .message && message.dataIsJSON)
      offsets.append(message.offset)
      i += 1 + length
    }
    #expect(offsets == [1, 2, 3])
  }

  @Test func largeTurnsAreSplitIntoFramesOfBoundedSize() throws {
    let (core, h, flushes) = try batchingHarness(binary: false, maxBatchBytes: 400)
    defer { try? core.close() }
    let events = try serverEvents(try publishInOneTurn(core, h, flushes, 20))
    #expect(events.count > 1)
    var offsets: [UInt64] = []
    for event in events {
      guard case .text(let text) = event else {
        Issue.record("expected text frames")
        return
      }
      #expect(text.count <= 400 + 200, "a frame may pass the limit by at most one message")
      let string = String(decoding: text, as: UTF8.self)
      for part in string.components(separatedBy: "\"offset\":").dropFirst() {
        offsets.append(UInt64(part.prefix { $0.isNumber }) ?? 0)
      }
    }
    #expect(offsets == Array(1...20))
  }
}

/// Receipts over the protocol: identified sessions mark cursors, the other subscribers hear of it.
@Suite struct ReceiptProtocolTests {
  @Test func aReceiptIsAcknowledgedAndAnnouncedToTheOthers() throws {
    let core = try Core(config: CoreConfig(databasePath: nil, durability: .off))
    try core.start()
    defer { try? core.close() }
    let hook: AuthHook = { request in
      .allow(request.token.flatMap { Identity(user: $0, device: "d-" + $0) })
    }
    let (ada, bob, anonymous) = try core.perform { engine in
      (
        Harness(authenticate: hook, router: engine.router), Harness(authenticate: hook, router: engine.router),
        Harness(router: engine.router)
      )
    }
    for n in 1...5 { _ = try core.publish(channel: "room", data: Array("\(n)".utf8), dataIsJSON: true) }
    // The host follows the channel's receipts too (loop thread only, like the harnesses).
    let hostReceipts = Received<ChannelReceipt>()
    let host = try core.subscribe(channel: "room", receipts: { hostReceipts.append($0) }) { _ in }
    defer { try? core.unsubscribe(host) }
    let replies = try core.perform { _ throws(RealtimeError) in
      ada.send(#"{"type":"connect","token":"ada"}"#)
      bob.send(#"{"type":"connect","token":"bob"}"#)
      anonymous.send(#"{"type":"connect"}"#)
      for h in [ada, bob, anonymous] { h.send(#"{"type":"subscribe","id":1,"channel":"room"}"#) }
      do {
        let adaSubscribed = try ada.replies().compactMap(\.envelope).last
        let anonymousSubscribed = try anonymous.replies().compactMap(\.envelope).last
        _ = try bob.replies()
        ada.send(#"{"type":"receipt","id":2,"channel":"room","offset":3,"status":"read"}"#)
        ada.send(#"{"type":"receipt","id":3,"channel":"room","offset":2,"status":"read"}"#)
        anonymous.send(#"{"type":"receipt","id":4,"channel":"room","offset":1,"status":"read"}"#)
        return (
          adaSubscribed, anonymousSubscribed, try ada.replies().compactMap(\.envelope),
          try bob.replies().compactMap(\.envelope), try anonymous.replies().compactMap(\.envelope)
        )
      } catch {
        throw RealtimeError(.internal, "\(error)")
      }
    }
    let (adaSubscribed, anonymousSubscribed, adaReplies, bobReplies, anonymousReplies) = replies
    #expect(adaSubscribed?.unread == 5)
    #expect(anonymousSubscribed?.type == .subscribed && anonymousSubscribed?.unread == nil)
    #expect(adaReplies.map(\.type) == [.ack, .ack], "no event back to the sender")
    #expect(adaReplies.map(\.offset) == [3, 3], "the cursor does not move back")
    #expect(bobReplies.count == 1, "one event: the second receipt moved nothing")
    #expect(bobReplies.first?.type == .receipt && bobReplies.first?.user == "ada")
    #expect(bobReplies.first?.device == "d-ada" && bobReplies.first?.offset == 3 && bobReplies.first?.status == "read")
    // Every other subscriber hears of ada's receipt; an anonymous one may not send its own.
    #expect(anonymousReplies.map(\.type) == [.receipt, .error])
    #expect(anonymousReplies.last?.code == ProtocolErrorCode.forbidden.rawValue)
    #expect(try core.unread(channel: "room", user: "ada") == 2)
    let heard = try core.perform { _ in hostReceipts.items }
    #expect(heard.count == 1, "the host hears of the receipt that moved a cursor, once")
    #expect(heard.first?.user == "ada" && heard.first?.device == "d-ada" && heard.first?.channel == "room")
    #expect(heard.first?.offset == 3 && heard.first?.kind == .read)
  }
}

/// Items collected on the loop thread by a host callback.
final class Received<T>: @unchecked Sendable {
  private(set) var items: [T] = []
  func append(_ item: T) { items.append(item) }
}

/// Server-side subscriptions: the host subscribes a user, and every session of that user follows.
@Suite struct ServerSideSubscriptionTests {
  @Test func everySessionOfTheUserIsSubscribedNowAndLater() throws {
    let core = try Core(config: CoreConfig(databasePath: nil, durability: .off))
    try core.start()
    defer { try? core.close() }
    try core.configure(namespace: "user", NamespaceOptions(persistent: false, publish: .server))
    let hook: AuthHook = { request in .allow(request.token.flatMap { Identity(user: $0, device: "d") }) }
    let (ada, bob) = try core.perform { engine in
      (Harness(authenticate: hook, router: engine.router), Harness(authenticate: hook, router: engine.router))
    }
    try core.perform { _ in
      ada.send(#"{"type":"connect","token":"ada"}"#)
      bob.send(#"{"type":"connect","token":"bob"}"#)
      _ = try? ada.replies()
      _ = try? bob.replies()
    }
    try core.subscribeUser("ada", to: "user:ada")
    _ = try core.publish(channel: "user:ada", data: Array("1".utf8), dataIsJSON: true)
    // A second session of ada, connecting later, gets the subscription too.
    let later = try core.perform { engine in Harness(authenticate: hook, router: engine.router) }
    try core.perform { _ in later.send(#"{"type":"connect","token":"ada"}"#) }
    _ = try core.publish(channel: "user:ada", data: Array("2".utf8), dataIsJSON: true)
    try core.unsubscribeUser("ada", from: "user:ada")
    _ = try core.publish(channel: "user:ada", data: Array("3".utf8), dataIsJSON: true)
    let (adaSaw, laterSaw, bobSaw) = try core.perform { _ in
      (
        ((try? ada.replies()) ?? []).compactMap(\.envelope), ((try? later.replies()) ?? []).compactMap(\.envelope),
        ((try? bob.replies()) ?? []).compactMap(\.envelope)
      )
    }
    #expect(adaSaw.map(\.type) == [.subscribed, .message, .message, .unsubscribed])
    #expect(adaSaw.first?.id == nil && adaSaw.first?.channel == "user:ada")
    #expect(adaSaw.filter { $0.type == .message }.map(\.offset) == [1, 2])
    #expect(laterSaw.map(\.type) == [.connected, .subscribed, .message, .unsubscribed])
    #expect(laterSaw.first { $0.type == .subscribed }?.unread == 1)
    #expect(bobSaw.isEmpty, "other users are not touched")
    #expect(throws: RealtimeError.self) { try core.subscribeUser("", to: "x") }
    #expect(throws: RealtimeError.self) { try core.subscribeUser("ada", to: "nope:x") }
  }
}
