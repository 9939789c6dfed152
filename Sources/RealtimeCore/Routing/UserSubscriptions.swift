/// A session the server can subscribe on its user's behalf: a client's protocol session.
protocol UserSession: ChannelSubscriber {
  /// Subscribes the session to `channel` and tells the client (`subscribed` without an id).
  func serverSubscribe(_ channel: String)
  /// Ends the session's subscription to `channel` and tells the client (`unsubscribed`).
  func serverUnsubscribe(_ channel: String)
}

/// Server-side subscriptions: channels the host subscribes a user to (`user:42`, a workspace's
/// feed), applied to every session of that user open now and to every one that connects later,
/// while the core runs. Loop-thread only.
final class UserSubscriptions {
  /// At most this many channels per user.
  static let maxChannelsPerUser = 1024
  /// At most this many users with server-side subscriptions.
  static let maxUsers = 1_000_000

  private var channels: [String: Set<String>] = [:]
  private var sessions: [String: [ObjectIdentifier: UserSession]] = [:]

  /// The user's server-side channels.
  func channels(of user: String) -> Set<String> { channels[user] ?? [] }

  /// Subscribes `user` to `channel`, now and in every later session; true if it was new.
  @discardableResult
  func add(_ channel: String, for user: String) throws(RealtimeError) -> Bool {
    var set = channels[user] ?? []
    guard !set.contains(channel) else { return false }
    guard set.count < Self.maxChannelsPerUser else {
      throw RealtimeError(.noMemory, "a user may have at most \(Self.maxChannelsPerUser) server-side subscriptions")
    }
    guard channels[user] != nil || channels.count < Self.maxUsers else {
      throw RealtimeError(.noMemory, "at most \(Self.maxUsers) users may have server-side subscriptions")
    }
    set.insert(channel)
    channels[user] = set
    for session in sessions[user]?.values ?? [:].values { session.serverSubscribe(channel) }
    return true
  }

  /// Ends `user`'s server-side subscription to `channel` in every session; true if it existed.
  @discardableResult
  func remove(_ channel: String, for user: String) -> Bool {
    guard channels[user]?.remove(channel) != nil else { return false }
    if channels[user]?.isEmpty == true { channels[user] = nil }
    for session in sessions[user]?.values ?? [:].values { session.serverUnsubscribe(channel) }
    return true
  }

  /// A session of `user` connected: it gets the user's server-side channels.
  func connected(_ session: UserSession, as user: String) {
    sessions[user, default: [:]][ObjectIdentifier(session)] = session
    for channel in channels[user] ?? [] { session.serverSubscribe(channel) }
  }

  /// A session of `user` ended; true when it was their last.
  @discardableResult
  func ended(_ session: UserSession, as user: String) -> Bool {
    sessions[user]?[ObjectIdentifier(session)] = nil
    guard sessions[user]?.isEmpty == true else { return false }
    sessions[user] = nil
    return true
  }

  /// The sessions of `user` open now (a role of theirs changed: each is checked again).
  func sessions(of user: String) -> [UserSession] { Array(sessions[user]?.values ?? [:].values) }

  /// Whether `user` has a session open now.
  func isOnline(_ user: String) -> Bool { sessions[user] != nil }
}
