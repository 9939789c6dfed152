/// A channel message as the host sees it.
public struct ChannelMessage: Sendable, Equatable {
  public let channel: String
  public let epoch: String
  public let offset: UInt64
  /// Publish time, ms since 1970.
  public let time: UInt64
  public let data: [UInt8]
  /// Whether `data` is one JSON value.
  public let dataIsJSON: Bool

  init(_ publication: Publication) {
    channel = publication.channel
    epoch = publication.epoch
    offset = publication.offset
    time = publication.time
    data = publication.data
    dataIsJSON = publication.dataIsJSON
  }
}

/// A member's receipt in a channel, as a host subscription sees it: `user` on `device` received
/// (`delivered`) or read the channel's messages up to `offset`.
public struct ChannelReceipt: Sendable, Equatable {
  public let channel: String
  public let user: String
  public let device: String
  public let offset: UInt64
  public let kind: ReceiptKind

  init?(_ event: Envelope) {
    guard event.type == .receipt, let channel = event.channel, let user = event.user, let device = event.device,
      let offset = event.offset, let kind = event.status.flatMap(ReceiptKind.init(rawValue:))
    else { return nil }
    (self.channel, self.user, self.device, self.offset, self.kind) = (channel, user, device, offset, kind)
  }
}

/// Where a publish landed.
public struct Published: Sendable, Equatable {
  public let epoch: String
  public let offset: UInt64
  /// The idempotency key was seen before: nothing new was stored.
  public let duplicate: Bool
}

/// A channel's stored messages and where the channel stands.
public struct ChannelHistory: Sendable, Equatable {
  public let epoch: String
  /// The channel's newest offset.
  public let top: UInt64
  /// Oldest first.
  public let messages: [ChannelMessage]
}

/// A host-side subscription: the handler runs on the loop thread for every message, in offset
/// order, until `Core.unsubscribe`. Replayed messages (recovery) come first.
public final class HostSubscription: ChannelSubscriber, @unchecked Sendable {
  public let channel: String
  /// The channel's epoch and newest offset when the subscription began.
  public private(set) var epoch = ""
  public private(set) var offset: UInt64 = 0
  /// With a starting position: whether every message after it was replayed; nil without one.
  public private(set) var recovered: Bool?
  private let handler: @Sendable (ChannelMessage) -> Void
  private let receiptHandler: (@Sendable (ChannelReceipt) -> Void)?
  /// Set before the subscription is registered (loop thread), never after.
  var presenceHandler: (@Sendable (ChannelPresence) -> Void)?
  // Loop-thread state: false once unsubscribed, so no delivery already under way reaches the host.
  private var active = true

  init(
    channel: String, receipts: (@Sendable (ChannelReceipt) -> Void)? = nil,
    handler: @escaping @Sendable (ChannelMessage) -> Void
  ) {
    self.channel = channel
    self.handler = handler
    self.receiptHandler = receipts
  }

  func deliver(_ publication: Publication) {
    if active { handler(ChannelMessage(publication)) }
  }

  func deliverEvent(_ event: ChannelEvent) {
    guard active else { return }
    let envelope = event.envelope
    if envelope.type == .presence, let presenceHandler, let channel = envelope.channel, let data = envelope.data {
      return presenceHandler(ChannelPresence(channel: channel, data: Array(data)))
    }
    guard let receiptHandler, let receipt = ChannelReceipt(envelope) else { return }
    receiptHandler(receipt)
  }

  fileprivate func begin(_ subscription: Router.Subscription) {
    epoch = subscription.epoch
    offset = subscription.offset
    recovered = subscription.recovered
  }

  fileprivate func end() { active = false }
}

extension Core {
  /// Runs `body` on the loop thread: at once when called there, else through the mailbox while
  /// the caller waits.
  func onLoop<T: Sendable>(_ body: @escaping @Sendable (Engine) throws(RealtimeError) -> T) throws(RealtimeError)
    -> T
  {
    if isOnLoopThread { return try body(engine) }
    return try perform(body)
  }

  /// Sets the options of a namespace's channels (`""` is the default namespace). Channels
  /// already in use keep their old options until they are reopened. Any thread; the core must
  /// be running.
  public func configure(namespace: String, _ options: NamespaceOptions) throws(RealtimeError) {
    try onLoop { engine throws(RealtimeError) in try engine.router.configure(namespace: namespace, options) }
  }

  /// Publishes to `channel`; `completion` runs on the loop thread once the message is delivered
  /// (after its commit, for a persistent channel) or refused. `dataIsJSON` data must be one
  /// JSON value. `coalesceKey` (1 to 128 bytes) lets a newer message with the same key replace
  /// this one for a slow subscriber in a `coalesce` namespace. Any thread, including the loop's.
  public func publish(
    channel: String, data: [UInt8], dataIsJSON: Bool = false, idempotencyKey: String? = nil,
    coalesceKey: String? = nil, completion: @escaping @Sendable (Result<Published, RealtimeError>) -> Void
  ) throws(RealtimeError) {
    if dataIsJSON && !JSONEnvelopeReader.isSingleValue(data[...]) {
      throw RealtimeError(.invalidArgument, "data marked as JSON is not one JSON value")
    }
    if let idempotencyKey, idempotencyKey.isEmpty || idempotencyKey.utf8.count > 128 {
      throw RealtimeError(.invalidArgument, "an idempotency key is 1 to 128 bytes")
    }
    if let coalesceKey, coalesceKey.isEmpty || coalesceKey.utf8.count > 128 {
      throw RealtimeError(.invalidArgument, "a coalescing key is 1 to 128 bytes")
    }
    let job: @Sendable (Engine) -> Void = { engine in
      engine.router.publish(
        channel: channel, data: data, dataIsJSON: dataIsJSON, idempotencyKey: idempotencyKey, coalesceKey: coalesceKey
      ) {
        completion($0.map { Published(epoch: $0.epoch, offset: $0.offset, duplicate: $0.duplicate) })
      }
    }
    if isOnLoopThread { return job(engine) }
    let engine = self.engine
    try post { job(engine) }
  }

  /// Publishes and waits for the outcome. Any thread but the loop's.
  public func publish(
    channel: String, data: [UInt8], dataIsJSON: Bool = false, idempotencyKey: String? = nil,
    coalesceKey: String? = nil
  ) throws(RealtimeError) -> Published {
    if isOnLoopThread {
      throw RealtimeError(.state, "a waiting publish cannot be made on the loop thread; pass a completion")
    }
    let waiter = try Waiter<Result<Published, RealtimeError>>()
    try publish(
      channel: channel, data: data, dataIsJSON: dataIsJSON, idempotencyKey: idempotencyKey, coalesceKey: coalesceKey
    ) {
      waiter.fulfill($0)
    }
    return try waiter.wait().get()
  }

  /// Subscribes the host to `channel`: `handler` runs on the loop thread for every message. With
  /// `since`, the messages after that position are replayed first when history still has them
  /// (`recovered`). `receipts`, if given, runs on the loop thread for every member's receipt
  /// that moves a cursor in the channel. Any thread.
  public func subscribe(
    channel: String, since: (epoch: String, offset: UInt64)? = nil,
    receipts: (@Sendable (ChannelReceipt) -> Void)? = nil, presence: (@Sendable (ChannelPresence) -> Void)? = nil,
    handler: @escaping @Sendable (ChannelMessage) -> Void
  ) throws(RealtimeError) -> HostSubscription {
    let subscription = HostSubscription(channel: channel, receipts: receipts, handler: handler)
    subscription.presenceHandler = presence
    let position = since.map { StreamPosition(epoch: $0.epoch, offset: $0.offset) }
    try onLoop { engine throws(RealtimeError) in
      let result = try engine.router.subscribe(channel, subscription, since: position)
      subscription.begin(result)
      for publication in result.replay { subscription.deliver(publication) }
    }
    return subscription
  }

  /// Ends a host subscription: when this returns, its handler is not called again. A stopped
  /// core has no subscriptions left. Any thread, including inside the handler.
  public func unsubscribe(_ subscription: HostSubscription) throws(RealtimeError) {
    do {
      try onLoop { engine in
        subscription.end()
        engine.router.unsubscribe(subscription.channel, subscription)
      }
    } catch  where error.code == .state {
      subscription.end()  // not running: nothing delivers any more
    }
  }

  /// A channel's stored messages, oldest first: above `after`, below `before`, at most `limit`
  /// (1 to 1000; the newest ones unless `after` is given). Any thread.
  public func history(channel: String, before: UInt64? = nil, after: UInt64? = nil, limit: Int = 100)
    throws(RealtimeError) -> ChannelHistory
  {
    try onLoop { engine throws(RealtimeError) in
      let found = try engine.router.history(channel, before: before, after: after, limit: limit)
      return ChannelHistory(epoch: found.epoch, top: found.top, messages: found.messages.map(ChannelMessage.init))
    }
  }

  /// Records that `user` on `device` received (`delivered`) or read `channel`'s messages up to
  /// `offset` (never past the newest); the channel's subscribers get a `receipt` event when the
  /// cursor moves. Returns the device's cursor. Any thread.
  @discardableResult
  public func receipt(
    _ kind: ReceiptKind, channel: String, offset: UInt64, user: String, device: String
  ) throws(RealtimeError) -> ReceiptCursor {
    guard let identity = Identity(user: user, device: device) else {
      throw RealtimeError(.invalidArgument, "user and device must be 1 to 128 bytes each")
    }
    return try onLoop { engine throws(RealtimeError) in
      try engine.router.receipt(kind, channel: channel, offset: offset, by: identity)
    }
  }

  /// Messages of `channel` after the newest one `user` has read on any of their devices. Any
  /// thread.
  public func unread(channel: String, user: String) throws(RealtimeError) -> UInt64 {
    guard (1...128).contains(user.utf8.count) else {
      throw RealtimeError(.invalidArgument, "a user is 1 to 128 bytes")
    }
    return try onLoop { engine throws(RealtimeError) in try engine.router.unread(channel: channel, user: user) }
  }

  /// Subscribes every session of `user`, open now or connecting later while the core runs, to
  /// `channel`; each client gets `subscribed` without an id. Any thread.
  public func subscribeUser(_ user: String, to channel: String) throws(RealtimeError) {
    guard (1...128).contains(user.utf8.count) else { throw RealtimeError(.invalidArgument, "a user is 1 to 128 bytes") }
    try onLoop { engine throws(RealtimeError) in
      _ = try engine.router.options(of: channel)
      try engine.router.userSubscriptions.add(channel, for: user)
    }
  }

  /// Ends `user`'s server-side subscription to `channel` in every session (each client gets
  /// `unsubscribed`). Any thread.
  public func unsubscribeUser(_ user: String, from channel: String) throws(RealtimeError) {
    try onLoop { engine in _ = engine.router.userSubscriptions.remove(channel, for: user) }
  }
}
