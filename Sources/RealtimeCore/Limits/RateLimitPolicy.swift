/// A rate limit: `count` units per `periodMs`, of which up to `burst` may come at once (GCRA: one
/// unit every `periodMs / count`, with a tolerance of `burst` units). Over any window of length
/// T, at most `burst + T * count / periodMs` units are accepted.
public struct RateLimitPolicy: Sendable, Equatable {
  public var count: UInt64
  public var periodMs: UInt64
  public var burst: UInt64

  /// A limit of `count` per `periodMs` (1 ms to 1 day), `burst` (1 to 1,000,000) at once.
  public init(count: UInt64, periodMs: UInt64, burst: UInt64) {
    self.count = count
    self.periodMs = periodMs
    self.burst = burst
  }

  /// Checks the ranges and that one unit's interval is at least a nanosecond.
  func validate() throws(RealtimeError) {
    guard (1...86_400_000).contains(periodMs) else {
      throw RealtimeError(.invalidArgument, "a rate limit's period is 1 ms to 1 day")
    }
    guard count >= 1, count <= periodMs * 1_000_000 else {
      throw RealtimeError(.invalidArgument, "a rate limit's count is 1 to one per nanosecond of its period")
    }
    guard (1...1_000_000).contains(burst) else {
      throw RealtimeError(.invalidArgument, "a rate limit's burst is 1 to 1,000,000")
    }
  }

  /// Nanoseconds per unit (the period over the count, rounded down).
  public var intervalNs: UInt64 { periodMs * 1_000_000 / count }
}

/// What a key is limited by, for the limits the core applies itself.
public enum RateLimitAction: String, Sendable, CaseIterable {
  /// A client's `publish`, per user (or per connection for anonymous clients).
  case publish
  /// A client's `subscribe`, per connection.
  case subscribe
  /// A client's presence changes, per user (or connection).
  case presence
  /// A client's typing indicators, per user (or connection).
  case typing
  /// A client's file chunks, uploaded (`chunk`) or fetched (`chunk_get`), per user (or
  /// connection): a file is thousands of chunks, which the `publish` limit would take an hour
  /// to pass.
  case chunk
  /// A client's requests that failed a limit: past this one the connection is closed (4006).
  case abuse
}

/// The outcome of a limit check.
public struct RateLimitDecision: Sendable, Equatable {
  public var allowed: Bool
  /// When refused: how long until the same cost would be allowed, in milliseconds (rounded up).
  public var retryAfterMs: UInt64

  public static let allow = RateLimitDecision(allowed: true, retryAfterMs: 0)
}
