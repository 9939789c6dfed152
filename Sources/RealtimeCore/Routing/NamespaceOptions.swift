/// Who may publish to a namespace's channels over the protocol. The host (C API, Swift API) may
/// always publish.
public enum PublishPolicy: Sendable, Equatable {
  /// Any connected client.
  case clients
  /// Only clients subscribed to the channel.
  case subscribers
  /// No client: only the host publishes (notifications, feeds).
  case server
}

/// What happens to a subscriber that does not keep up: its socket's backlog is over the limit
/// and the messages held back for it fill their queue. Never a silent gap.
public enum SlowConsumerPolicy: Sendable, Equatable {
  /// End the session with `disconnect` 4005 (reconnect, resubscribe with the last offset seen,
  /// and recover from history). For channels where every message matters.
  case disconnect
  /// Drop the oldest held messages of the channel and tell the client with a `gap` message
  /// before the next one it gets (it may read the gap from history). For ephemeral data.
  case dropOldest
  /// Keep only the newest held message per coalescing key (a publish's `key`): a newer one
  /// replaces the older, which the client learns from a `gap` with reason `coalesced` (nothing to
  /// refetch: it was superseded). Messages without a key, or a full queue, are dropped oldest
  /// first as with `dropOldest`. For state that only its latest value matters (cursors, progress).
  case coalesce
}

/// The options every channel of one namespace shares.
public struct NamespaceOptions: Sendable, Equatable {
  /// Stored in SQLite through the group-commit writer, surviving restarts; a publish is
  /// acknowledged and delivered once committed. Otherwise kept in memory only.
  public var persistent: Bool
  /// Messages kept per channel for history and recovery (1 to 1,000,000).
  public var historySize: Int
  /// Messages older than this are dropped from history, in milliseconds; 0 keeps them until
  /// `historySize` pushes them out. The newest message is always kept.
  public var historyAgeMs: UInt64
  /// Who may publish over the protocol.
  public var publish: PublishPolicy
  /// Whether clients may subscribe over the protocol (the host may always subscribe).
  public var clientSubscribe: Bool
  /// How long an idempotency key is remembered, in milliseconds.
  public var idempotencyWindowMs: UInt64
  /// What happens to a subscriber that cannot keep up.
  public var slowConsumer: SlowConsumerPolicy
  /// Whether the channels keep presence: identified subscribers appear in it, and members get
  /// `presence` diffs and `typing` indicators.
  public var presence = false
  /// End-to-end: clients seal every payload themselves (`EndToEnd` says the form), and the core
  /// routes and stores those bytes as they came — never sealing them again at rest, never
  /// reading them — and refuses anything that does not look sealed.
  public var endToEnd = false

  /// Defaults: persistent, 1,000 messages of history without age limit, any client may publish
  /// and subscribe, idempotency keys remembered for 10 minutes, slow consumers disconnected.
  public init(
    persistent: Bool = true, historySize: Int = 1000, historyAgeMs: UInt64 = 0, publish: PublishPolicy = .clients,
    clientSubscribe: Bool = true, idempotencyWindowMs: UInt64 = 600_000,
    slowConsumer: SlowConsumerPolicy = .disconnect
  ) {
    self.slowConsumer = slowConsumer
    self.persistent = persistent
    self.historySize = historySize
    self.historyAgeMs = historyAgeMs
    self.publish = publish
    self.clientSubscribe = clientSubscribe
    self.idempotencyWindowMs = idempotencyWindowMs
  }

  /// Checks the options' ranges.
  func validate() throws(RealtimeError) {
    guard (1...1_000_000).contains(historySize) else {
      throw RealtimeError(.invalidArgument, "history size must be 1 to 1000000 messages")
    }
    guard idempotencyWindowMs <= 86_400_000 else {
      throw RealtimeError(.invalidArgument, "the idempotency window must be at most 24 hours")
    }
  }
}
