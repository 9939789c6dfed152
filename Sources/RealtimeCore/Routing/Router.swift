import CLibUV
import CSodium

/// Limits of the router as a whole.
public struct RouterLimits: Sendable, Equatable {
  /// Channels held in memory at once; idle in-memory channels are dropped first beyond it.
  public var maxChannels = 100_000
  /// The most messages replayed to recover one subscription; a longer gap is reported as not
  /// recovered and the client reads history instead.
  public var maxRecoveryMessages = 10_000
  /// The most messages one `history` request may ask for.
  public var maxHistoryLimit = 1000
  /// Largest message data, in bytes.
  public var maxDataBytes = 1 << 20
  /// Idempotency keys remembered per channel (the oldest are forgotten first).
  public var maxKeysPerChannel = 10_000
  /// Messages of a persistent channel kept in memory for fast recovery.
  public var recentCachePerChannel = 1024

  public init() {}
}

/// Where a client was in a channel, for recovery.
struct StreamPosition: Equatable {
  var epoch: String
  var offset: UInt64
}

/// Routes messages: channels by name, their options by namespace, publish (with idempotency and,
/// for persistent channels, group commit before delivery), subscribe with recovery, history.
/// Never parses a payload. Loop-thread only.
final class Router {
  private let log: DurableLog
  private let store: Store
  private let sink: LogSink
  private let limits: RouterLimits
  private var namespaces: [String: NamespaceOptions] = ["": NamespaceOptions()]
  private var channels: [String: Channel] = [:]
  /// Every channel's presence and typing state.
  let presence = PresenceBook()
  /// Receipt cursors per channel, user and device.
  let receipts: ReceiptBook
  /// Channels the host subscribed users to, and the users' open sessions.
  let userSubscriptions = UserSubscriptions()
  /// Milliseconds since 1970; injectable so tests control time.
  var clock: () -> UInt64

  init(log: DurableLog, store: Store, sink: LogSink, limits: RouterLimits = RouterLimits()) {
    self.log = log
    self.store = store
    self.sink = sink
    self.limits = limits
    self.receipts = ReceiptBook(store: store)
    self.clock = Router.wallClock
    _ = sodium_init()
  }

  static func wallClock() -> UInt64 {
    var now = uv_timeval64_t()
    guard uv_gettimeofday(&now) == 0 else { return 0 }
    return UInt64(max(now.tv_sec, 0)) * 1000 + UInt64(max(now.tv_usec, 0)) / 1000
  }

  /// Sets the options of a namespace's channels. Channels already open keep their options
  /// until they are reopened.
  func configure(namespace: String, _ options: NamespaceOptions) throws(RealtimeError) {
    guard ChannelName.isValidNamespace(namespace) else {
      throw RealtimeError(.invalidArgument, "a namespace is 0 to 64 bytes of a-z, 0-9, _ and -")
    }
    do {
      try options.validate()
    } catch {
      throw RealtimeError(error.code, "namespace \"\(namespace)\": \(error.message)")
    }
    namespaces[namespace] = options
  }

  /// The options of `name`'s namespace, after checking the name.
  func options(of name: String) throws(RealtimeError) -> NamespaceOptions {
    let namespace = try ChannelName.namespace(of: name)
    guard let options = namespaces[String(namespace)] else {
      throw RealtimeError(.notFound, "no namespace \"\(namespace)\" is configured for channel \(name)")
    }
    return options
  }

  /// The channel named `name`, opened (and loaded from the store) on first use.
  func channel(_ name: String) throws(RealtimeError) -> Channel {
    if let channel = channels[name] { return channel }
    let options = try options(of: name)
    if channels.count >= limits.maxChannels { evictIdleChannels() }
    guard channels.count < limits.maxChannels else {
      throw RealtimeError(.noMemory, "the server holds its maximum of \(limits.maxChannels) channels")
    }
    let channel: Channel
    if options.persistent {
      let stream = Router.stream(name)
      let top = try log.lastSeq(stream: stream)
      channel = Channel(
        name: name, options: options, epoch: store.instance, top: top,
        recentCapacity: min(options.historySize, limits.recentCachePerChannel))
      if top > 0 {
        let count = min(UInt64(channel.recentCapacity), top)
        for entry in try DurableLog.entries(store, stream: stream, after: top - count, limit: Int(count)) {
          let record = try ChannelRecord.decode(entry.payload)
          channel.remember(publication(of: entry, record, in: channel))
          if let key = record.idempotencyKey {
            channel.keys[key] = Channel.RememberedKey(offset: entry.seq, time: entry.time, committed: true)
            channel.keyOrder.append(key)
          }
        }
      }
    } else {
      channel = Channel(
        name: name, options: options, epoch: Router.randomEpoch(), top: 0, recentCapacity: options.historySize)
    }
    channels[name] = channel
    return channel
  }

  /// Publishes `data` to `channel`. The completion runs once the message is delivered (for a
  /// persistent channel: committed first), or with the reason it was refused; with an
  /// idempotency key seen within the window, it reports the original offset and stores nothing.
  /// `coalesceKey` travels with live deliveries (policy `coalesce`); it is not stored.
  func publish(
    channel name: String, data: [UInt8], dataIsJSON: Bool, idempotencyKey: String?, coalesceKey: String? = nil,
    completion: @escaping PublishCompletion
  ) {
    let channel: Channel
    do throws(RealtimeError) {
      guard data.count <= limits.maxDataBytes else {
        throw RealtimeError(.tooLarge, "data of \(data.count) bytes exceeds the \(limits.maxDataBytes)-byte limit")
      }
      channel = try self.channel(name)
      if channel.options.endToEnd { try EndToEnd.check(data, dataIsJSON: dataIsJSON, channel: name) }
    } catch {
      return completion(.failure(error))
    }
    let now = clock()
    if let key = idempotencyKey {
      channel.expireKeys(olderThan: now &- min(channel.options.idempotencyWindowMs, now))
      if let seen = channel.keys[key] {
        if seen.committed {
          return completion(.success(PublishResult(epoch: channel.epoch, offset: seen.offset, duplicate: true)))
        }
        if let index = channel.pending[channel.pendingHead...].firstIndex(where: {
          $0.publication.offset == seen.offset
        }) {
          channel.pending[index].waiters.append { result in
            completion(result.map { PublishResult(epoch: $0.epoch, offset: $0.offset, duplicate: true) })
          }
          return
        }
      }
    }
    if !channel.options.persistent {
      channel.lastAssigned += 1
      let publication = Publication(
        channel: name, epoch: channel.epoch, offset: channel.lastAssigned, time: now, data: data,
        dataIsJSON: dataIsJSON, slowConsumer: channel.options.slowConsumer, coalesceKey: coalesceKey)
      if channel.options.historyAgeMs > 0 { channel.dropRecent(olderThan: now &- channel.options.historyAgeMs) }
      channel.deliver(publication)
      if let key = idempotencyKey { remember(key, offset: publication.offset, time: now, in: channel) }
      return completion(.success(PublishResult(epoch: channel.epoch, offset: publication.offset, duplicate: false)))
    }
    let stream = Router.stream(name)
    if channel.needsResync {
      guard !channel.hasPending else {
        return completion(
          .failure(RealtimeError(.tryAgain, "the channel is recovering from a failed write; retry the publish")))
      }
      do {
        channel.lastAssigned = try log.lastSeq(stream: stream)
        channel.top = channel.lastAssigned
        channel.needsResync = false
      } catch {
        return completion(.failure(error))
      }
    }
    let offset = channel.lastAssigned + 1
    let publication = Publication(
      channel: name, epoch: channel.epoch, offset: offset, time: now, data: data, dataIsJSON: dataIsJSON,
      slowConsumer: channel.options.slowConsumer, coalesceKey: coalesceKey)
    channel.pending.append((publication, [completion], idempotencyKey))
    channel.lastAssigned = offset
    if let key = idempotencyKey {
      channel.keys[key] = Channel.RememberedKey(offset: offset, time: now, committed: false)
      channel.keyOrder.append(key)
    }
    let record = ChannelRecord.encode(data: data, dataIsJSON: dataIsJSON, idempotencyKey: idempotencyKey)
    let assigned = log.append(stream: stream, payload: record, time: now, endToEnd: channel.options.endToEnd) {
      [unowned self] result in
      self.settle(channel, offset: offset, result)
    }
    if assigned != nil && assigned != offset {
      // The log's numbering and ours disagree: fail safe, resync before the next publish.
      sink(.error, "channel \(name): the log assigned \(assigned ?? 0) where \(offset) was expected")
      channel.needsResync = true
    }
  }

  /// A persistent publish's commit outcome: deliver (in offset order) and acknowledge, or fail.
  private func settle(_ channel: Channel, offset: UInt64, _ result: Result<UInt64, RealtimeError>) {
    guard channel.pendingHead < channel.pending.count, channel.pending[channel.pendingHead].publication.offset == offset
    else {
      sink(.error, "channel \(channel.name): commit outcome for offset \(offset) out of order; ignored")
      return
    }
    let (publication, waiters, key) = channel.pending[channel.pendingHead]
    channel.pending[channel.pendingHead].waiters = []
    channel.pendingHead += 1
    if channel.pendingHead == channel.pending.count {
      channel.pending.removeAll(keepingCapacity: true)
      channel.pendingHead = 0
    }
    switch result {
    case .success(let seq) where seq == offset:
      channel.deliver(publication)
      if let key, channel.keys[key]?.offset == offset { channel.keys[key]?.committed = true }
      let answer = PublishResult(epoch: channel.epoch, offset: offset, duplicate: false)
      for waiter in waiters { waiter(.success(answer)) }
      trimIfDue(channel)
    case .success(let seq):
      channel.needsResync = true
      let error = RealtimeError(.internal, "the log stored entry \(seq) where \(offset) was expected")
      for waiter in waiters { waiter(.failure(error)) }
    case .failure(let error):
      channel.needsResync = true
      if let key, channel.keys[key]?.offset == offset, channel.keys[key]?.committed == false { channel.keys[key] = nil }
      for waiter in waiters { waiter(.failure(error)) }
    }
  }

  private func remember(_ key: String, offset: UInt64, time: UInt64, in channel: Channel) {
    channel.keys[key] = Channel.RememberedKey(offset: offset, time: time, committed: true)
    channel.keyOrder.append(key)
    while channel.keys.count > limits.maxKeysPerChannel, channel.keyOrderHead < channel.keyOrder.count {
      channel.keys[channel.keyOrder[channel.keyOrderHead]] = nil
      channel.keyOrderHead += 1
    }
  }

  /// Deletes stored history beyond the namespace's size and age, every 64 publishes.
  private func trimIfDue(_ channel: Channel) {
    channel.publishesSinceTrim += 1
    guard channel.publishesSinceTrim >= 64 else { return }
    channel.publishesSinceTrim = 0
    let size = UInt64(channel.options.historySize)
    let below = channel.top > size ? channel.top - size + 1 : 0
    let age = channel.options.historyAgeMs
    let now = clock()
    log.trim(stream: Router.stream(channel.name), belowSeq: below, olderThan: age > 0 && now > age ? now - age : 0)
  }

  /// What a subscriber learns on subscribing.
  struct Subscription {
    var epoch: String
    /// The channel's newest offset: live messages follow it.
    var offset: UInt64
    /// With a position: whether every message after it is in `replay` (nil without one).
    var recovered: Bool?
    /// The messages after the client's position, oldest first, when recovered.
    var replay: [Publication]
  }

  /// Subscribes `subscriber` to `name`; with `since`, also returns what it missed.
  func subscribe(_ name: String, _ subscriber: ChannelSubscriber, since: StreamPosition?) throws(RealtimeError)
    -> Subscription
  {
    let channel = try self.channel(name)
    var result = Subscription(epoch: channel.epoch, offset: channel.top, recovered: nil, replay: [])
    if let since {
      result.recovered = false
      if since.epoch == channel.epoch && since.offset <= channel.top {
        if let replay = try missed(in: channel, after: since.offset) {
          result.recovered = true
          result.replay = replay
        }
      }
    }
    _ = channel.add(subscriber)
    return result
  }

  /// Every message after `offset` up to the channel's top, or nil if history no longer reaches
  /// back that far (or the gap is longer than the recovery limit).
  private func missed(in channel: Channel, after offset: UInt64) throws(RealtimeError) -> [Publication]? {
    let count = channel.top - offset
    if count == 0 { return [] }
    guard count <= UInt64(limits.maxRecoveryMessages) else { return nil }
    let recent = channel.recentMessages
    if let first = recent.first, first.offset <= offset + 1 {
      return Array(recent.drop { $0.offset <= offset })
    }
    guard channel.options.persistent else { return nil }
    let entries = try DurableLog.entries(store, stream: Router.stream(channel.name), after: offset, limit: Int(count))
    guard entries.count == Int(count), entries.first?.seq == offset + 1 else { return nil }
    var out: [Publication] = []
    out.reserveCapacity(entries.count)
    for entry in entries {
      out.append(publication(of: entry, try ChannelRecord.decode(entry.payload), in: channel))
    }
    return out
  }

  /// When users went offline in this run, for reads before the write is committed. Bounded: past
  /// 100,000 users it starts over, the older ones being long committed.
  private var recentLastSeen: [String: UInt64] = [:]

  /// Records that `user`'s last session ended now (stored with the turn's writes).
  func recordLastSeen(_ user: String) {
    let now = clock()
    if recentLastSeen.count >= 100_000 { recentLastSeen = [:] }
    recentLastSeen[user] = now
    log.enqueue(.lastSeen(user: user, time: Int64(clamping: now)))
  }

  /// Whether `user` is online (a session open now) and, if not, when they were last seen (ms
  /// since 1970; nil: never, as far as this database knows).
  func lastSeen(_ user: String) throws(RealtimeError) -> (online: Bool, time: UInt64?) {
    if userSubscriptions.isOnline(user) { return (true, clock()) }
    if let time = recentLastSeen[user] { return (false, time) }
    let stored = try store.read { db throws(RealtimeError) -> Int64? in
      let stmt = try db.prepare("SELECT time FROM rt_last_seen WHERE user = ?1")
      try stmt.bind(1, user)
      return try stmt.step() ? stmt.int64(0) : nil
    }
    return (false, stored.map { UInt64(max($0, 0)) })
  }

  /// Every subscriber of every open channel, each once per channel it holds (an access rule
  /// changed: all of them are checked again).
  func allSubscribers() -> [ChannelSubscriber] { channels.values.flatMap(\.subscribers) }

  /// Subscribers of `name` now (0 when the channel is not open).
  func subscriberCount(_ name: String) -> Int { channels[name]?.subscribers.count ?? 0 }

  /// Sends the presence diffs due at `now` to their channels' subscribers (`force`: every one,
  /// coalesced or not). Returns whether some remain for later.
  func flushPresence(force: Bool = false) -> Bool {
    let now = clock()
    presence.expire(now: now)
    for (name, data) in presence.due(now: now, members: subscriberCount, force: force) {
      guard let channel = channels[name] else { continue }
      var event = Envelope(.presence)
      event.channel = name
      event.data = data[...]
      event.dataIsJSON = true
      channel.broadcast(ChannelEvent(event, origin: nil))
    }
    return presence.hasPending
  }

  /// Passes on that `user` is typing in `name` (at most once a second per user), to every
  /// subscriber but `origin`.
  func typing(_ name: String, user: String, origin: AnyObject?) {
    guard presence.typing(name, user: user, now: clock()), let channel = channels[name] else { return }
    var event = Envelope(.typing)
    event.channel = name
    event.user = user
    channel.broadcast(ChannelEvent(event, origin: origin))
  }

  /// Removes `subscriber` from `name`; false if it was not subscribed.
  @discardableResult
  func unsubscribe(_ name: String, _ subscriber: ChannelSubscriber) -> Bool {
    channels[name]?.remove(subscriber) ?? false
  }

  /// Stored messages of `name`, oldest first: above `after`, below `before`, at most `limit` of
  /// them (the newest ones when `before` is given or neither is).
  func history(_ name: String, before: UInt64?, after: UInt64?, limit: Int) throws(RealtimeError) -> (
    epoch: String, top: UInt64, messages: [Publication]
  ) {
    guard limit >= 1, limit <= limits.maxHistoryLimit else {
      throw RealtimeError(.invalidArgument, "limit must be 1 to \(limits.maxHistoryLimit)")
    }
    let channel = try self.channel(name)
    let low = after ?? 0
    let high = before ?? (channel.top &+ 1)
    guard low < high else { return (channel.epoch, channel.top, []) }
    if channel.options.historyAgeMs > 0 {
      channel.dropRecent(olderThan: clock() &- min(channel.options.historyAgeMs, clock()))
    }
    let recent = channel.recentMessages
    let newestFirst = after == nil
    if !channel.options.persistent || (recent.first.map { $0.offset <= low + 1 } ?? (channel.top == 0)) {
      let matching = recent.filter { $0.offset > low && $0.offset < high }
      return (channel.epoch, channel.top, Array(newestFirst ? matching.suffix(limit) : matching.prefix(limit)))
    }
    let entries = try DurableLog.entries(
      store, stream: Router.stream(name), after: low, before: newestFirst ? high : nil, limit: limit)
    var out: [Publication] = []
    for entry in entries where entry.seq < high && entry.seq <= channel.top {
      out.append(publication(of: entry, try ChannelRecord.decode(entry.payload), in: channel))
    }
    return (channel.epoch, channel.top, out)
  }

  private func publication(of entry: DurableLog.Entry, _ record: ChannelRecord.Decoded, in channel: Channel)
    -> Publication
  {
    Publication(
      channel: channel.name, epoch: channel.epoch, offset: entry.seq, time: entry.time, data: record.data,
      dataIsJSON: record.dataIsJSON, slowConsumer: channel.options.slowConsumer)
  }

  /// Records that `identity` received (or read) `name`'s messages up to `offset`, and tells the
  /// channel's other subscribers when the cursor moved. Returns the device's cursor.
  @discardableResult
  func receipt(
    _ kind: ReceiptKind, channel name: String, offset: UInt64, by identity: Identity, origin: AnyObject? = nil
  ) throws(RealtimeError) -> ReceiptCursor {
    let channel = try self.channel(name)
    let (cursor, moved) = try receipts.mark(kind, offset: offset, in: channel, by: identity, log: log)
    if moved {
      var event = Envelope(.receipt)
      event.channel = name
      event.offset = kind == .read ? cursor.read : cursor.delivered
      event.status = kind.rawValue
      event.user = identity.user
      event.device = identity.device
      channel.broadcast(ChannelEvent(event, origin: origin))
    }
    return cursor
  }

  /// Messages of `name` after the newest one `user` has read on any device.
  func unread(channel name: String, user: String) throws(RealtimeError) -> UInt64 {
    try receipts.unread(in: try self.channel(name), user: user)
  }

  /// Drops in-memory channels nobody uses (persistent ones only lose their cache).
  private func evictIdleChannels() {
    var dropped = 0
    for (name, channel) in channels where !channel.hasSubscribers && !channel.hasPending {
      channels[name] = nil
      dropped += 1
      if dropped >= 1024 { break }
    }
    if dropped > 0 { sink(.info, "dropped \(dropped) idle channels (at the \(limits.maxChannels)-channel limit)") }
  }

  /// The log stream of a persistent channel. `#` is not allowed in channel names, so channel
  /// streams never collide with other streams.
  static func stream(_ channel: String) -> String { "#" + channel }

  static func randomEpoch() -> String {
    var bytes = [UInt8](repeating: 0, count: 8)
    randombytes_buf(&bytes, bytes.count)
    let hex = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for byte in bytes {
      out.append(hex[Int(byte >> 4)])
      out.append(hex[Int(byte & 0xF)])
    }
    return String(decoding: out, as: UTF8.self)
  }
}
