/// Something scheduled that can be called off: a `LoopTimer`, or a test's fake.
protocol Cancellable: AnyObject {
  func cancel()
}

extension LoopTimer: Cancellable {}

/// Runs a body once after a delay in milliseconds, on the loop thread; nil when it cannot (the
/// engine is stopping).
typealias Scheduler = (_ delayMs: UInt64, _ body: @escaping () -> Void) -> Cancellable?

/// What a protocol session knows about its endpoint.
struct ProtocolSettings {
  var limits: EnvelopeLimits
  /// Time from the upgrade to the client's `connect`; then `disconnect` with 4004.
  var connectTimeoutMs: UInt64
  /// How often the server pings a silent client (told in `connected`); nil when it does not.
  var pingIntervalMs: UInt64?
  var maxMessageBytes: Int
  var authenticate: AuthHook?
  var serverName = "realtimecore"
  /// Channels one session may be subscribed to at once.
  var maxSubscriptions = 1024
  /// The most messages one `history` request gets when it sets no limit.
  var defaultHistoryLimit = 100
  /// Above this socket backlog, channel messages are held back instead of written.
  var holdAboveBytes = 256 << 10
  /// Messages held back for a slow client; beyond them its channels' policy applies.
  var maxHeldMessages = 1024
  /// Largest batch frame payload; a turn's messages beyond it go in further frames.
  var maxBatchBytes = 64 << 10
  /// The core's rate limits (`publish`, `subscribe`, and `abuse` for refusals); nil: none.
  var rateLimiter: RateLimiter?
  /// The core's authorization, checked before every channel and document request; nil: all open.
  var access: Access?
  /// The live connections per token session, which a revocation closes; nil: none tracked.
  var tokenConnections: TokenConnections?
  /// The core's token check, on an endpoint with token auth (for `refresh`); nil otherwise.
  var tokenGate: TokenGate?
}

/// The application protocol on one WebSocket session (`docs/protocol.md`): waits for `connect`
/// (within the connect timeout), answers `connected`, `ping` with `pong`, and every message it
/// cannot serve with an `error` that names the problem; ends sessions with `disconnect` and the
/// matching close code. Requests are answered in the encoding they came in; the session's own
/// messages use the encoding of its `connect`. Loop-thread only.
final class ProtocolSession: WebSocketApplication, ChannelSubscriber, UserSession {
  enum State: Equatable {
    case awaitingConnect
    case connected
    case ended
  }

  let id: UInt64
  private(set) var state = State.awaitingConnect
  private(set) var encoding = EnvelopeEncoding.json
  private(set) var clientName: String?
  let settings: ProtocolSettings
  let schedule: Scheduler
  private var connectTimer: Cancellable?
  /// Routes channel requests; nil where the session serves no channels (some tests).
  private let router: Router?
  /// The channels this session is subscribed to.
  private(set) var subscriptions: Set<String> = []
  /// Per channel with presence, this session's entry in it.
  private var presenceKeys: [String: PresenceSet.Key] = [:]
  /// The open WebSocket session, for deliveries that arrive between requests; nil once it ended.
  /// Strong, and cleared at the end, instead of weak: a weak reference gives the session a side
  /// table, and then every retain and release of it takes the slow path — on the fan-out path,
  /// once per delivery.
  private(set) var socket: WebSocketSession?
  /// The user this session connected as, if identified (kept for the end, when the socket may be
  /// gone).
  private var identityUser: String?
  /// Messages held back while the client's socket is behind, oldest first.
  private var held: [Publication] = []
  private var heldHead = 0
  /// How many of the held messages are a recovery's replay, which the hold limit does not count.
  private var heldReplays = 0
  /// Per channel, the runs of offsets dropped (policies `dropOldest`, `coalesce`) and not yet
  /// reported with `gap`, in offset order.
  private var dropped: [String: [DroppedRun]] = [:]
  /// The client takes several messages per frame (it asked in `connect`).
  private(set) var batching = false
  /// This turn's messages for a batching client, written as one frame when the turn ends.
  private var batch: [Publication] = []
  /// Asks for `flushBatch` at the end of the loop turn; nil: no batching (tests).
  private let requestFlush: ((ProtocolSession) -> Void)?
  /// The core's documents; nil where the session serves none (some tests).
  let documents: DocumentHub?
  /// The documents this session syncs (held open until it ends).
  var syncedDocuments: [String: SharedDocument] = [:]
  /// Ends the session with 4011 when its access token expires (`TokenAuth.swift`).
  var tokenTimer: Cancellable?
  /// The token session (`sid`) this connection is registered under, for revocation.
  var watchedTokenSession: String?
  var tokenConnections: TokenConnections? { settings.tokenConnections }
  var tokenGate: TokenGate? { settings.tokenGate }

  init(
    id: UInt64, settings: ProtocolSettings, router: Router? = nil, documents: DocumentHub? = nil,
    requestFlush: ((ProtocolSession) -> Void)? = nil, schedule: @escaping Scheduler
  ) {
    self.id = id
    self.settings = settings
    self.router = router
    self.documents = documents
    self.requestFlush = requestFlush
    self.schedule = schedule
  }

  func sessionOpened(_ session: WebSocketSession) {
    socket = session
    // The timer holds the session until it fires or is cancelled (at the latest when the
    // session ends), so no weak reference is needed.
    connectTimer = schedule(settings.connectTimeoutMs) { [self] in
      guard let session = self.socket, self.state == .awaitingConnect else { return }
      self.disconnect(
        session, DisconnectCode.connectTimeout,
        reason: "no connect message within \(self.settings.connectTimeoutMs) ms", reconnect: true)
    }
    startTokenWatch(session)
  }

  func session(_ session: WebSocketSession, received message: WebSocketEvent) {
    let bytes: [UInt8]
    let encoding: EnvelopeEncoding
    switch message {
    case .text(let text): (bytes, encoding) = (text, .json)
    case .binary(let binary): (bytes, encoding) = (binary, .binary)
    default: return
    }
    do throws(ProtocolFault) {
      let envelope =
        encoding == .json
        ? try JSONEnvelopeReader.decode(bytes, limits: settings.limits)
        : try BinaryEnvelopeReader.decode(bytes, limits: settings.limits)
      try handle(envelope, from: session, encoding: encoding)
    } catch {
      send(ProtocolSession.error(error), to: session, as: encoding)
    }
  }

  func sessionEnded(_ session: WebSocketSession, _ ending: WebSocketSession.Ending) {
    state = .ended
    socket = nil
    batch = []
    if let user = identityUser, let router, router.userSubscriptions.ended(self, as: user) {
      router.recordLastSeen(user)
    }
    for channel in subscriptions {
      router?.unsubscribe(channel, self)
      leavePresence(channel)
    }
    subscriptions = []
    endDocumentSync()
    held = []
    heldHead = 0
    heldReplays = 0
    connectTimer?.cancel()
    connectTimer = nil
    stopTokenWatch()
  }

  func serverGoingAway(_ session: WebSocketSession) {
    guard state == .connected else { return }
    var goodbye = Envelope(.disconnect)
    goodbye.code = UInt64(DisconnectCode.goingAway.rawValue)
    goodbye.reason = "server shutting down"
    goodbye.reconnect = true
    send(goodbye, to: session, as: encoding)
  }

  private func handle(_ envelope: Envelope, from session: WebSocketSession, encoding: EnvelopeEncoding)
    throws(ProtocolFault)
  {
    guard envelope.type.isClientMessage else {
      throw ProtocolFault(.unknownType, "\(envelope.type.name) is sent by the server, not by clients", id: envelope.id)
    }
    switch envelope.type {
    case .connect:
      try connect(envelope, from: session, encoding: encoding)
    case .ping:
      var pong = Envelope(.pong, id: envelope.id)
      pong.data = envelope.data
      pong.dataIsJSON = envelope.dataIsJSON
      send(pong, to: session, as: encoding)
    case .refresh:
      try refreshToken(envelope, session, encoding)
    default:
      guard state == .connected else {
        throw ProtocolFault(.notConnected, "send connect first", id: envelope.id)
      }
      if [.docSync, .docUpdate, .chunk, .chunkGet].contains(envelope.type) {
        if let action = Self.limitedAction(envelope.type), let limiter = settings.rateLimiter {
          guard try withinLimit(action, limiter, envelope, session, encoding) else { return }
        }
        return try handleDocument(envelope, session, encoding)
      }
      guard let router else { throw ProtocolFault(.notFound, "this endpoint serves no channels", id: envelope.id) }
      guard let channel = envelope.channel else {
        throw ProtocolFault(.badRequest, "\(envelope.type.name) needs a channel", id: envelope.id)
      }
      if let action = Self.limitedAction(envelope.type), let limiter = settings.rateLimiter {
        guard try withinLimit(action, limiter, envelope, session, encoding) else { return }
      }
      do throws(RealtimeError) {
        try authorize(envelope.type, channel)
        switch envelope.type {
        case .subscribe: try subscribe(envelope, channel, router, session, encoding)
        case .unsubscribe: unsubscribe(envelope, channel, router, session, encoding)
        case .publish: try publish(envelope, channel, router, session, encoding)
        case .history: try history(envelope, channel, router, session, encoding)
        case .receipt: try receipt(envelope, channel, router, session, encoding)
        case .presence: try setPresence(envelope, channel, router, session, encoding)
        case .presenceList: try listPresence(envelope, channel, router, session, encoding)
        case .typing: try typing(channel, router, session)
        default: throw RealtimeError(.internal, "unhandled message type \(envelope.type.name)")
        }
      } catch {
        throw ProtocolFault(ProtocolErrorCode(error.code), error.message, id: envelope.id)
      }
    }
  }

  // MARK: - Presence

  /// Enters the session in `channel`'s presence when the namespace keeps it and the session is
  /// identified (anonymous clients see presence but are not in it). A full channel leaves it out.
  private func joinPresence(_ channel: String, _ router: Router, _ session: WebSocketSession?) {
    guard let identity = session?.identity, (try? router.options(of: channel).presence) == true,
      mayUsePresence(channel)
    else { return }
    let key = PresenceSet.Key(user: identity.user, client: "\(identity.device)/\(id)")
    guard (try? router.presence.set(channel, key, PresenceSet.Entry(status: "online", meta: [], expiresAt: nil))) != nil
    else { return }
    presenceKeys[channel] = key
  }

  func leavePresence(_ channel: String) {
    guard let key = presenceKeys.removeValue(forKey: channel) else { return }
    router?.presence.remove(channel, key)
  }

  /// Refuses presence requests for a channel the session is not subscribed to, or without presence.
  private func checkPresence(_ channel: String, _ router: Router) throws(RealtimeError) {
    guard subscriptions.contains(channel) else { throw RealtimeError(.forbidden, "subscribe to \(channel) first") }
    guard try router.options(of: channel).presence else {
      throw RealtimeError(.forbidden, "\(channel)'s namespace keeps no presence")
    }
  }

  /// The session's presence entry in `channel`, or why it has none.
  private func presenceKey(_ channel: String, _ router: Router) throws(RealtimeError) -> PresenceSet.Key {
    try checkPresence(channel, router)
    guard let key = presenceKeys[channel] else {
      throw RealtimeError(.forbidden, "presence needs a known user: the server's authentication hook names it")
    }
    return key
  }

  private func setPresence(
    _ request: Envelope, _ channel: String, _ router: Router, _ session: WebSocketSession, _ encoding: EnvelopeEncoding
  ) throws(RealtimeError) {
    let key = try presenceKey(channel, router)
    var entry = router.presence.entry(channel, key) ?? PresenceSet.Entry(status: "online", meta: [], expiresAt: nil)
    if let status = request.status { entry.status = status }
    if let data = request.data {
      guard request.dataIsJSON else { throw RealtimeError(.invalidArgument, "presence meta must be one JSON object") }
      entry.meta = Array(data)
    }
    try router.presence.validate(status: entry.status, meta: entry.meta.isEmpty ? Array("{}".utf8) : entry.meta)
    try router.presence.set(channel, key, entry)
    var ack = Envelope(.ack, id: request.id)
    ack.channel = channel
    send(ack, to: session, as: encoding)
  }

  /// Answers with a page of `channel`'s presence: `data` holds the counts and the entries; `user`
  /// and `device` name the last entry when more follow (pass them back for the next page).
  private func listPresence(
    _ request: Envelope, _ channel: String, _ router: Router, _ session: WebSocketSession, _ encoding: EnvelopeEncoding
  ) throws(RealtimeError) {
    try checkPresence(channel, router)
    var cursor: PresenceSet.Key?
    if let user = request.user { cursor = PresenceSet.Key(user: user, client: request.device ?? "") }
    let limit = request.limit ?? 100
    guard limit >= 1, limit <= UInt64(router.presence.limits.maxPageSize) else {
      throw RealtimeError(.invalidArgument, "limit must be 1 to \(router.presence.limits.maxPageSize)")
    }
    let page = try router.presence.page(channel, after: cursor, limit: Int(limit) + 1)
    let count = router.presence.count(channel)
    var data = Array(#"{"users":\#(count.users),"entries":\#(count.entries),"page":["#.utf8)
    PresenceBook.appendEntries(Array(page.prefix(Int(limit))), to: &data)
    data += Array("]}".utf8)
    var reply = Envelope(.presenceList, id: request.id)
    reply.channel = channel
    reply.data = data[...]
    reply.dataIsJSON = true
    if page.count > Int(limit), let last = page.prefix(Int(limit)).last?.0 {
      reply.user = last.user
      reply.device = last.client
    }
    send(reply, to: session, as: encoding)
  }

  private func typing(_ channel: String, _ router: Router, _ session: WebSocketSession) throws(RealtimeError) {
    let key = try presenceKey(channel, router)
    router.typing(channel, user: key.user, origin: self)
  }

  // MARK: - Rate limits

  /// The rate limit a client message is charged to, if any.
  private static func limitedAction(_ type: MessageType) -> RateLimitAction? {
    switch type {
    case .publish, .docUpdate: .publish
    case .subscribe, .docSync: .subscribe
    case .chunk, .chunkGet: .chunk
    case .presence, .presenceList: .presence
    case .typing: .typing
    default: nil
    }
  }

  /// The key the session's limits are kept under: its user (all their devices share a limit),
  /// else the session itself.
  private var limitKey: [UInt8] {
    if let identityUser { return Array("u:\(identityUser)".utf8) }
    return Array("s:\(id)".utf8)
  }

  /// Charges one unit of `action`; when refused, answers `rate_limited` with `retry_after_ms`
  /// and charges the refusal to `abuse`, past which the session ends with 4006.
  private func withinLimit(
    _ action: RateLimitAction, _ limiter: RateLimiter, _ request: Envelope, _ session: WebSocketSession,
    _ encoding: EnvelopeEncoding
  ) throws(ProtocolFault) -> Bool {
    let key = limitKey
    let decision: RateLimitDecision
    do throws(RealtimeError) {
      decision = try limiter.check(action.rawValue, key: key)
    } catch {
      throw ProtocolFault(ProtocolErrorCode(error.code), error.message, id: request.id)
    }
    if decision.allowed { return true }
    var refusal = ProtocolSession.error(
      ProtocolFault(.rateLimited, "too many \(action.rawValue) requests; retry later", id: request.id))
    refusal.retryAfterMs = decision.retryAfterMs
    send(refusal, to: session, as: encoding)
    let abuse = (try? limiter.check(RateLimitAction.abuse.rawValue, key: key)) ?? .allow
    if !abuse.allowed {
      disconnect(
        session, DisconnectCode.rateLimited,
        reason: "kept sending past the rate limits; reconnect in \(abuse.retryAfterMs) ms", reconnect: true)
    }
    return false
  }

  // MARK: - Channels

  func deliver(_ publication: Publication) {
    guard let socket, state == .connected else { return }
    if heldHead == held.count && socket.backlogBytes <= settings.holdAboveBytes {
      return write(publication, to: socket)
    }
    hold(publication, socket)
  }

  /// Writes a message, after a `gap` if messages of its channel were dropped before it. A
  /// batching client gets the turn's messages together at the end of the turn.
  private func write(_ publication: Publication, to socket: WebSocketSession) {
    // Checked for emptiness first: hashing the channel name on every delivery showed in profiles.
    if !dropped.isEmpty { reportGaps(before: publication, to: socket) }
    guard batching, let requestFlush else { return socket.sendEncoded(publication.frame(encoding)) }
    if batch.isEmpty { requestFlush(self) }
    batch.append(publication)
  }

  private static let jsonOpen = OutboundBytes(Array("[".utf8))
  private static let jsonComma = OutboundBytes(Array(",".utf8))
  private static let jsonClose = OutboundBytes(Array("]".utf8))
  private static let binaryBatchHead = OutboundBytes([BinaryEnvelopeReader.format, 0])

  /// Writes this turn's messages: one alone as its shared frame; several as batch frames of at
  /// most `maxBatchBytes` each, made of a frame header and the messages' shared encodings (a
  /// JSON array, or the binary batch form), written together with one writev.
  func flushBatch() {
    guard !batch.isEmpty else { return }
    let messages = batch
    batch.removeAll(keepingCapacity: true)
    guard let socket, socket.phase == .open else { return }
    if messages.count == 1 { return socket.sendEncoded(messages[0].frame(encoding)) }
    let json = encoding == .json
    var start = 0
    while start < messages.count {
      // The messages that fit, then the header that says how long they are.
      var body: [OutboundBytes] = [json ? Self.jsonOpen : Self.binaryBatchHead]
      var length = body[0].count + (json ? 1 : 0)
      var end = start
      while end < messages.count {
        let entry = messages[end].batchEntry(encoding)
        let extra = entry.count + (json && end > start ? 1 : 0)
        if end > start && length + extra > settings.maxBatchBytes { break }
        if json && end > start { body.append(Self.jsonComma) }
        body.append(entry)
        length += extra
        end += 1
      }
      if json { body.append(Self.jsonClose) }
      socket.sendPieces([FrameEncoder.header(json ? .text : .binary, length: length)] + body)
      start = end
    }
  }

  /// Keeps a message back for a client whose socket is behind; when the queue is full, its
  /// channel's policy decides: drop that channel's oldest held message (reported as a gap), or
  /// end the session so the client recovers from history.
  private func hold(_ publication: Publication, _ socket: WebSocketSession) {
    // Coalescing: a held live message of the channel with the same key is superseded.
    if publication.slowConsumer == .coalesce, let key = publication.coalesceKey,
      let index = held[(heldHead + heldReplays)...].lastIndex(where: {
        $0.coalesceKey == key && $0.channel == publication.channel
      })
    {
      recordDropped(held.remove(at: index), coalesced: true)
      held.append(publication)
      return
    }
    if held.count - heldHead - heldReplays >= settings.maxHeldMessages {
      switch publication.slowConsumer {
      case .disconnect:
        held = []
        heldHead = 0
        heldReplays = 0
        return disconnect(
          socket, DisconnectCode.slowConsumer,
          reason: "slow consumer: resubscribe with the last offsets seen to recover", reconnect: true)
      case .dropOldest, .coalesce:
        let index =
          held[heldHead...].firstIndex { $0.channel == publication.channel } ?? heldHead
        if index < heldHead + heldReplays { heldReplays -= 1 }
        recordDropped(held.remove(at: index), coalesced: false)
      }
    }
    held.append(publication)
  }

  /// Sends a `gap` for every unreported run of dropped offsets of the publication's channel that
  /// lies before it. A coalesced run may lie after it (a newer message replaced a later one) and
  /// waits for the message that replaced it.
  private func reportGaps(before publication: Publication, to socket: WebSocketSession) {
    guard let runs = dropped[publication.channel] else { return }
    var kept: [DroppedRun] = []
    for run in runs {
      guard run.offsets.upperBound < publication.offset else {
        kept.append(run)
        continue
      }
      var gap = Envelope(.gap)
      gap.channel = publication.channel
      gap.epoch = publication.epoch
      gap.after = run.offsets.lowerBound - 1
      gap.before = run.offsets.upperBound + 1
      if run.coalesced { gap.reason = "coalesced" }
      send(gap, to: socket, as: encoding)
    }
    dropped[publication.channel] = kept.isEmpty ? nil : kept
  }

  /// Records that `publication` was dropped, merging it into an adjacent run of the same kind.
  private func recordDropped(_ publication: Publication, coalesced: Bool) {
    var runs = dropped[publication.channel] ?? []
    let offset = publication.offset
    if let index = runs.firstIndex(where: {
      $0.coalesced == coalesced && ($0.offsets.upperBound &+ 1 == offset || $0.offsets.lowerBound == offset &+ 1)
    }) {
      let run = runs[index].offsets
      runs[index].offsets = min(run.lowerBound, offset)...max(run.upperBound, offset)
    } else {
      let at = runs.firstIndex { $0.offsets.lowerBound > offset } ?? runs.count
      runs.insert(DroppedRun(offsets: offset...offset, coalesced: coalesced), at: at)
    }
    dropped[publication.channel] = runs
  }

  /// Drops what is held back for `channel` and its unreported gap (after an unsubscribe).
  private func forgetHeld(of channel: String) {
    let pending = held[heldHead...]
    heldReplays = pending.prefix(heldReplays).filter { $0.channel != channel }.count
    held = pending.filter { $0.channel != channel }
    heldHead = 0
    dropped[channel] = nil
  }

  func sessionDrained(_ session: WebSocketSession) {
    while heldHead < held.count && session.backlogBytes <= settings.holdAboveBytes && session.phase == .open {
      let publication = held[heldHead]
      heldHead += 1
      // Replayed messages sit at the front of the queue, before every live one held after them.
      if heldReplays > 0 { heldReplays -= 1 }
      write(publication, to: session)
    }
    if heldHead == held.count {
      held.removeAll(keepingCapacity: true)
      heldHead = 0
    }
  }

  private func subscribe(
    _ request: Envelope, _ channel: String, _ router: Router, _ session: WebSocketSession, _ encoding: EnvelopeEncoding
  ) throws(RealtimeError) {
    guard !subscriptions.contains(channel) else {
      throw RealtimeError(.invalidArgument, "already subscribed to \(channel)")
    }
    guard subscriptions.count < settings.maxSubscriptions else {
      throw RealtimeError(.noMemory, "a session may hold at most \(settings.maxSubscriptions) subscriptions")
    }
    guard try router.options(of: channel).clientSubscribe else {
      throw RealtimeError(.forbidden, "clients may not subscribe to \(channel)")
    }
    var since: StreamPosition?
    switch (request.epoch, request.offset) {
    case (nil, nil): break
    case (let epoch?, let offset?): since = StreamPosition(epoch: epoch, offset: offset)
    default: throw RealtimeError(.invalidArgument, "recovery needs both epoch and offset")
    }
    // A replay is history: without the right to it, the subscription starts live, unrecovered.
    let replayRefused = since != nil && !mayReadHistory(channel)
    if replayRefused { since = nil }
    let result = try router.subscribe(channel, self, since: since)
    subscriptions.insert(channel)
    joinPresence(channel, router, session)
    var reply = Envelope(.subscribed, id: request.id)
    reply.channel = channel
    reply.epoch = result.epoch
    reply.offset = result.offset
    reply.recovered = replayRefused ? false : result.recovered
    if let identity = session.identity { reply.unread = try? router.unread(channel: channel, user: identity.user) }
    send(reply, to: session, as: encoding)
    // Nothing can be published between these writes: the loop runs one thing at a time.
    // A recovery can be long (up to the router's limit): it obeys the socket's backlog like live
    // messages do, but is not cut by the hold queue's limit, or a client recovering a long gap
    // would be disconnected, reconnect to recover the same gap, and never get through.
    for publication in result.replay {
      if heldHead == held.count && session.backlogBytes <= settings.holdAboveBytes {
        write(publication, to: session)
      } else {
        held.append(publication)
        heldReplays += 1
      }
    }
  }

  func serverSubscribe(_ channel: String) {
    guard let socket, state == .connected, let router, !subscriptions.contains(channel) else { return }
    guard subscriptions.count < settings.maxSubscriptions else {
      return send(
        ProtocolSession.error(
          ProtocolFault(.limitExceeded, "a server-side subscription to \(channel) is over the session's limit")),
        to: socket, as: encoding)
    }
    do throws(RealtimeError) {
      let result = try router.subscribe(channel, self, since: nil)
      subscriptions.insert(channel)
      joinPresence(channel, router, socket)
      var reply = Envelope(.subscribed)
      reply.channel = channel
      reply.epoch = result.epoch
      reply.offset = result.offset
      if let user = socket.identity?.user { reply.unread = try? router.unread(channel: channel, user: user) }
      send(reply, to: socket, as: encoding)
    } catch {
      send(ProtocolSession.error(ProtocolFault(ProtocolErrorCode(error.code), error.message)), to: socket, as: encoding)
    }
  }

  func serverUnsubscribe(_ channel: String) {
    guard let socket, state == .connected, subscriptions.contains(channel) else { return }
    subscriptions.remove(channel)
    router?.unsubscribe(channel, self)
    leavePresence(channel)
    forgetHeld(of: channel)
    var reply = Envelope(.unsubscribed)
    reply.channel = channel
    send(reply, to: socket, as: encoding)
  }

  /// A member's receipt, from the router: written like any other frame to this client.
  func deliverEvent(_ event: ChannelEvent) {
    guard let socket, state == .connected, mayReceive(event) else { return }
    flushBatch()
    socket.sendEncoded(event.frame(encoding))
  }

  private func receipt(
    _ request: Envelope, _ channel: String, _ router: Router, _ session: WebSocketSession, _ encoding: EnvelopeEncoding
  ) throws(RealtimeError) {
    guard let identity = session.identity else {
      throw RealtimeError(.forbidden, "receipts need a known user: the server's authentication hook names it")
    }
    guard let offset = request.offset else { throw RealtimeError(.invalidArgument, "receipt needs an offset") }
    guard let kind = request.status.flatMap(ReceiptKind.init(rawValue:)) else {
      throw RealtimeError(.invalidArgument, "receipt status must be \"delivered\" or \"read\"")
    }
    guard subscriptions.contains(channel) else {
      throw RealtimeError(.forbidden, "receipts are for channels this session is subscribed to")
    }
    let cursor = try router.receipt(kind, channel: channel, offset: offset, by: identity, origin: self)
    var ack = Envelope(.ack, id: request.id)
    ack.channel = channel
    ack.offset = kind == .read ? cursor.read : cursor.delivered
    ack.status = kind.rawValue
    send(ack, to: session, as: encoding)
  }

  private func unsubscribe(
    _ request: Envelope, _ channel: String, _ router: Router, _ session: WebSocketSession, _ encoding: EnvelopeEncoding
  ) {
    if subscriptions.remove(channel) != nil {
      router.unsubscribe(channel, self)
      leavePresence(channel)
      // Nothing of the channel may follow `unsubscribed`.
      forgetHeld(of: channel)
    }
    var reply = Envelope(.unsubscribed, id: request.id)
    reply.channel = channel
    send(reply, to: session, as: encoding)
  }

  private func publish(
    _ request: Envelope, _ channel: String, _ router: Router, _ session: WebSocketSession, _ encoding: EnvelopeEncoding
  ) throws(RealtimeError) {
    guard let data = request.data else { throw RealtimeError(.invalidArgument, "publish needs data") }
    switch try router.options(of: channel).publish {
    case .clients: break
    case .subscribers:
      guard subscriptions.contains(channel) else {
        throw RealtimeError(.forbidden, "only subscribers may publish to \(channel)")
      }
    case .server: throw RealtimeError(.forbidden, "clients may not publish to \(channel)")
    }
    let id = request.id
    router.publish(
      channel: channel, data: Array(data), dataIsJSON: request.dataIsJSON, idempotencyKey: request.idempotencyKey,
      coalesceKey: request.key
    ) { [self] result in
      // The session may have ended while the commit was under way.
      guard let session = self.socket else { return }
      switch result {
      case .success(let published):
        var ack = Envelope(.ack, id: id)
        ack.channel = channel
        ack.epoch = published.epoch
        ack.offset = published.offset
        self.send(ack, to: session, as: encoding)
      case .failure(let error):
        self.send(
          ProtocolSession.error(ProtocolFault(ProtocolErrorCode(error.code), error.message, id: id)), to: session,
          as: encoding)
      }
    }
  }

  private func history(
    _ request: Envelope, _ channel: String, _ router: Router, _ session: WebSocketSession, _ encoding: EnvelopeEncoding
  ) throws(RealtimeError) {
    let limit = request.limit ?? UInt64(settings.defaultHistoryLimit)
    guard limit >= 1, limit <= 1_000_000 else { throw RealtimeError(.invalidArgument, "limit must be at least 1") }
    let found = try router.history(channel, before: request.before, after: request.after, limit: Int(limit))
    for publication in found.messages {
      send(publication.envelope(id: request.id), to: session, as: encoding)
    }
    var end = Envelope(.ack, id: request.id)
    end.channel = channel
    end.epoch = found.epoch
    end.offset = found.top
    send(end, to: session, as: encoding)
  }

  private func connect(_ envelope: Envelope, from session: WebSocketSession, encoding: EnvelopeEncoding)
    throws(ProtocolFault)
  {
    guard state == .awaitingConnect else {
      throw ProtocolFault(.alreadyConnected, "this session is already connected", id: envelope.id)
    }
    let version = envelope.version ?? 1
    guard version == 1 else {
      let message = "protocol version \(version) is not supported; this server speaks 1"
      return refuse(
        envelope, ProtocolFault(.unsupportedVersion, message, id: envelope.id), DisconnectCode.unsupportedVersion,
        session, encoding)
    }
    if let token = envelope.token, tokenGate != nil {
      guard acceptConnectToken(token, envelope, session, encoding) else { return }
    } else if let token = envelope.token, let authenticate = settings.authenticate {
      let request = AuthRequest(token: token, origin: session.request?.origin, path: session.request?.path ?? "")
      switch authenticate(request) {
      case .deny(_, let message):
        return refuse(
          envelope, ProtocolFault(.unauthorized, message, id: envelope.id), DisconnectCode.unauthorized, session,
          encoding)
      case .allow(let who):
        if let who { session.identity = who }
      }
    }
    self.encoding = encoding
    clientName = envelope.client
    batching = envelope.batch == true && requestFlush != nil
    state = .connected
    connectTimer?.cancel()
    connectTimer = nil
    var reply = Envelope(.connected, id: envelope.id)
    reply.version = 1
    reply.session = String(id, radix: 16)
    reply.server = settings.serverName
    reply.pingIntervalMs = settings.pingIntervalMs
    reply.maxMessageBytes = UInt64(settings.maxMessageBytes)
    if batching { reply.batch = true }
    send(reply, to: session, as: encoding)
    if let user = session.identity?.user, let router {
      identityUser = user
      router.userSubscriptions.connected(self, as: user)
    }
  }

  /// Refuses a `connect`: the error, then `disconnect` (without reconnect unless told: an expired
  /// token may come back refreshed).
  func refuse(
    _ envelope: Envelope, _ fault: ProtocolFault, _ code: CloseCode, _ session: WebSocketSession,
    _ encoding: EnvelopeEncoding, reconnect: Bool = false
  ) {
    self.encoding = encoding
    send(ProtocolSession.error(fault), to: session, as: encoding)
    disconnect(session, code, reason: fault.message, reconnect: reconnect)
  }

  /// Ends the session: `disconnect` with the code, in the session's encoding, then a close frame
  /// with the same code.
  func disconnect(_ session: WebSocketSession, _ code: CloseCode, reason: String, reconnect: Bool) {
    var goodbye = Envelope(.disconnect)
    goodbye.code = UInt64(code.rawValue)
    goodbye.reason = reason
    goodbye.reconnect = reconnect
    send(goodbye, to: session, as: encoding)
    session.close(code, reason: reason)
  }

  func send(_ envelope: Envelope, to session: WebSocketSession, as encoding: EnvelopeEncoding) {
    // Messages batched this turn go first: replies never overtake them.
    flushBatch()
    session.send(encoding == .json ? .text : .binary, EnvelopeWriter.encode(envelope, as: encoding))
  }

  static func error(_ fault: ProtocolFault) -> Envelope {
    var envelope = Envelope(.error, id: fault.id)
    envelope.code = fault.code.rawValue
    envelope.message = fault.message
    return envelope
  }
}

/// A run of consecutive offsets of one channel dropped for a slow client, not yet reported.
struct DroppedRun: Equatable {
  var offsets: ClosedRange<UInt64>
  /// Superseded by a newer message with the same coalescing key, rather than dropped for room.
  var coalesced: Bool
}
