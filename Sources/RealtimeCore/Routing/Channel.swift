/// One channel's live state on the loop: its epoch and offsets, subscribers, recent messages,
/// idempotency keys and the publishes still waiting for their commit. Loop-thread only.
final class Channel {
  let name: String
  let options: NamespaceOptions
  /// Offsets compare only within one epoch: the database's instance id for a persistent
  /// channel, a random id for an in-memory one (new whenever it is created again).
  let epoch: String
  /// The newest offset delivered to subscribers (committed, for a persistent channel).
  var top: UInt64
  /// The newest offset handed out (ahead of `top` while commits are pending).
  var lastAssigned: UInt64
  /// A publish failed to commit: offsets must be read back from the log before the next one.
  var needsResync = false
  /// Publishes since the last trim of stored history.
  var publishesSinceTrim = 0

  private(set) var subscribers: [ChannelSubscriber] = []
  private var subscriberIndex: [ObjectIdentifier: Int] = [:]

  /// The newest messages, oldest first, with consecutive offsets ending at `top`. For an
  /// in-memory channel this is its whole history.
  private(set) var recent: [Publication] = []
  private var recentStart = 0
  let recentCapacity: Int

  /// Publishes waiting for their commit, oldest first, each with who waits for it and its
  /// idempotency key (marked committed, or forgotten, when the outcome comes).
  var pending: [(publication: Publication, waiters: [PublishCompletion], key: String?)] = []
  var pendingHead = 0

  struct RememberedKey {
    var offset: UInt64
    var time: UInt64
    var committed: Bool
  }
  /// Idempotency keys seen within the window, and the order they arrived in (for expiry).
  var keys: [String: RememberedKey] = [:]
  var keyOrder: [String] = []
  var keyOrderHead = 0

  init(name: String, options: NamespaceOptions, epoch: String, top: UInt64, recentCapacity: Int) {
    self.name = name
    self.options = options
    self.epoch = epoch
    self.top = top
    self.lastAssigned = top
    self.recentCapacity = max(recentCapacity, 1)
  }

  var hasSubscribers: Bool { !subscribers.isEmpty }
  var hasPending: Bool { pendingHead < pending.count }

  /// Adds a subscriber; false if it was already subscribed.
  func add(_ subscriber: ChannelSubscriber) -> Bool {
    let id = ObjectIdentifier(subscriber)
    guard subscriberIndex[id] == nil else { return false }
    subscriberIndex[id] = subscribers.count
    subscribers.append(subscriber)
    return true
  }

  /// Removes a subscriber; false if it was not subscribed.
  @discardableResult
  func remove(_ subscriber: ChannelSubscriber) -> Bool {
    let id = ObjectIdentifier(subscriber)
    guard let index = subscriberIndex.removeValue(forKey: id) else { return false }
    let last = subscribers.count - 1
    if index != last {
      subscribers[index] = subscribers[last]
      subscriberIndex[ObjectIdentifier(subscribers[index])] = index
    }
    subscribers.removeLast()
    return true
  }

  /// Delivers a committed message to every subscriber and keeps it in the recent ring.
  func deliver(_ publication: Publication) {
    top = publication.offset
    remember(publication)
    // A subscriber may unsubscribe itself while being delivered to (a slow consumer closing):
    // iterate over the list as it was.
    let now = subscribers
    for subscriber in now { subscriber.deliver(publication) }
  }

  /// Hands an event to every subscriber but the one it came from.
  func broadcast(_ event: ChannelEvent) {
    let now = subscribers
    for subscriber in now where ObjectIdentifier(subscriber) != event.origin { subscriber.deliverEvent(event) }
  }

  /// Keeps `publication` (the newest) in the recent ring.
  func remember(_ publication: Publication) {
    if recent.count < recentCapacity {
      recent.append(publication)
    } else {
      // Full: overwrite the oldest. The ring is put back in order lazily, when read.
      recent[recentStart] = publication
      recentStart += 1
      if recentStart == recent.count { recentStart = 0 }
    }
  }

  /// The recent messages, oldest first.
  var recentMessages: ArraySlice<Publication> {
    if recentStart == 0 { return recent[...] }
    // Rotate once so later reads are plain slices.
    recent = Array(recent[recentStart...] + recent[..<recentStart])
    recentStart = 0
    return recent[...]
  }

  /// Drops messages older than `cutoff` (ms since 1970) from the front of the ring, always
  /// keeping the newest.
  func dropRecent(olderThan cutoff: UInt64) {
    // Runs on every publish of an age-limited channel: when the oldest is young enough there is
    // nothing to drop, and the ring is left as it is (putting it in order copies all of it).
    guard recent.count > 1, recent[recentStart].time < cutoff else { return }
    var messages = recentMessages
    while messages.count > 1, let first = messages.first, first.time < cutoff {
      messages = messages.dropFirst()
    }
    if messages.count != recent.count { recent = Array(messages) }
  }

  /// Forgets idempotency keys older than `cutoff`.
  func expireKeys(olderThan cutoff: UInt64) {
    while keyOrderHead < keyOrder.count {
      let key = keyOrder[keyOrderHead]
      guard let entry = keys[key] else {
        keyOrderHead += 1
        continue
      }
      guard entry.committed, entry.time < cutoff else { break }
      keys[key] = nil
      keyOrderHead += 1
    }
    if keyOrderHead > 1024 && keyOrderHead * 2 > keyOrder.count {
      keyOrder.removeFirst(keyOrderHead)
      keyOrderHead = 0
    }
  }
}

/// What a publisher learns: where its message landed, and whether it was a retry.
struct PublishResult: Equatable, Sendable {
  var epoch: String
  var offset: UInt64
  /// The idempotency key was seen before: nothing new was stored.
  var duplicate: Bool
}

typealias PublishCompletion = (Result<PublishResult, RealtimeError>) -> Void
