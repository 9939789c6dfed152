/// A presence entry as the host sees it.
public struct PresenceEntry: Sendable, Equatable {
  public let user: String
  public let client: String
  public let status: String
  /// One JSON object.
  public let meta: [UInt8]
}

/// A page of a channel's presence: the counts, the entries in (user, client) order, and where
/// the next page starts (nil: this was the last).
public struct PresencePage: Sendable, Equatable {
  public let users: Int
  public let entries: Int
  public let page: [PresenceEntry]
  public let next: PresenceCursor?
}

/// Where a presence listing goes on: after this (user, client).
public struct PresenceCursor: Sendable, Equatable {
  public let user: String
  public let client: String
  public init(user: String, client: String) {
    self.user = user
    self.client = client
  }
}

/// A channel's presence diff, as the host subscription's presence callback gets it: `data` is
/// the JSON of the protocol's `presence` event (`{"join":[...],"leave":[...],"update":[...]}`).
public struct ChannelPresence: Sendable, Equatable {
  public let channel: String
  public let data: [UInt8]
}

extension Core {
  private static func checkName(_ value: String, _ what: String) throws(RealtimeError) {
    guard (1...128).contains(value.utf8.count) else {
      throw RealtimeError(.invalidArgument, "a \(what) is 1 to 128 bytes")
    }
  }

  private static func presenceOn(_ router: Router, _ channel: String) throws(RealtimeError) {
    guard try router.options(of: channel).presence else {
      throw RealtimeError(.invalidArgument, "\(channel)'s namespace keeps no presence")
    }
  }

  /// Sets the host's presence entry for `user` and `client` in `channel` (a join, or an update
  /// when it exists) for `leaseMs` (1 ms to 1 day): it ends then unless set again. `meta` is one
  /// JSON object of at most 1 KiB; `status` 1 to 32 bytes. Any thread.
  public func setPresence(
    channel: String, user: String, client: String, status: String = "online", meta: [UInt8] = Array("{}".utf8),
    leaseMs: UInt64
  ) throws(RealtimeError) {
    try Self.checkName(user, "user")
    try Self.checkName(client, "client")
    guard (1...86_400_000).contains(leaseMs) else {
      throw RealtimeError(.invalidArgument, "a presence lease is 1 ms to 1 day")
    }
    try onLoop { engine throws(RealtimeError) in
      let router = engine.router
      try Self.presenceOn(router, channel)
      try router.presence.validate(status: status, meta: meta)
      let entry = PresenceSet.Entry(status: status, meta: meta, expiresAt: router.clock() &+ leaseMs)
      try router.presence.set(channel, PresenceSet.Key(user: user, client: client), entry)
    }
  }

  /// Ends the host's entry for `user` and `client` in `channel`; false when there was none.
  /// Any thread.
  @discardableResult
  public func clearPresence(channel: String, user: String, client: String) throws(RealtimeError) -> Bool {
    try onLoop { engine throws(RealtimeError) in
      try Self.presenceOn(engine.router, channel)
      return engine.router.presence.remove(channel, PresenceSet.Key(user: user, client: client))
    }
  }

  /// Users online and entries in `channel`. Any thread.
  public func presenceCount(channel: String) throws(RealtimeError) -> (users: Int, entries: Int) {
    try onLoop { engine throws(RealtimeError) in
      try Self.presenceOn(engine.router, channel)
      return engine.router.presence.count(channel)
    }
  }

  /// A page of `channel`'s presence after `cursor`, at most `limit` (1 to 1000) entries. Any
  /// thread.
  public func presence(channel: String, after cursor: PresenceCursor? = nil, limit: Int = 100) throws(RealtimeError)
    -> PresencePage
  {
    try onLoop { engine throws(RealtimeError) in
      let router = engine.router
      try Self.presenceOn(router, channel)
      let key = cursor.map { PresenceSet.Key(user: $0.user, client: $0.client) }
      let found = try router.presence.page(channel, after: key, limit: limit)
      let rest = found.count == limit ? try router.presence.page(channel, after: found.last?.0, limit: 1) : []
      let count = router.presence.count(channel)
      return PresencePage(
        users: count.users, entries: count.entries,
        page: found.map { PresenceEntry(user: $0.0.user, client: $0.0.client, status: $0.1.status, meta: $0.1.meta) },
        next: !rest.isEmpty ? found.last.map { PresenceCursor(user: $0.0.user, client: $0.0.client) } : nil)
    }
  }

  /// Tells `channel`'s members that `user` is typing (passed on at most once a second per user;
  /// clients show it for 5 seconds). Any thread.
  public func typing(channel: String, user: String) throws(RealtimeError) {
    try Self.checkName(user, "user")
    try onLoop { engine throws(RealtimeError) in
      try Self.presenceOn(engine.router, channel)
      engine.router.typing(channel, user: user, origin: nil)
    }
  }
}

/// Whether a user is online, and when they were last seen.
public struct LastSeen: Sendable, Equatable {
  /// A session of the user is open now.
  public let online: Bool
  /// When their last session ended (ms since 1970); nil while online or when never seen.
  public let time: UInt64?
}

extension Core {
  /// Whether `user` (as the authentication hook names users) is online now, else when their
  /// last session ended; stored, so it survives restarts. Any thread.
  public func lastSeen(user: String) throws(RealtimeError) -> LastSeen {
    guard (1...128).contains(user.utf8.count) else { throw RealtimeError(.invalidArgument, "a user is 1 to 128 bytes") }
    return try onLoop { engine throws(RealtimeError) in
      let seen = try engine.router.lastSeen(user)
      return LastSeen(online: seen.online, time: seen.online ? nil : seen.time)
    }
  }
}
