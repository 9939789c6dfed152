/// When a write is acknowledged, and so what a crash can take away.
public enum Durability: Int32, Sendable {
  /// Acknowledged after commit and fsync of the write-ahead log: survives kill -9 and power loss.
  case full = 0
  /// Acknowledged after commit: survives kill -9; a power loss may take the last commits.
  case normal = 1
  /// Acknowledged when queued: a crash may lose writes not yet committed.
  case off = 2

  /// The SQLite `synchronous` setting that gives this durability in WAL mode.
  var synchronousPragma: String {
    switch self {
    case .full: "FULL"
    case .normal: "NORMAL"
    case .off: "OFF"
    }
  }
}
