/// How a core is set up (the Swift form of `rt_config`).
public struct CoreConfig: Sendable {
  /// SQLite database file, created if missing; nil keeps everything in memory.
  public var databasePath: String?
  /// When writes are acknowledged.
  public var durability: Durability
  /// Messages above this level are not even formatted.
  public var logLevel: LogLevel
  /// Where log messages go; nil discards them.
  public var logHandler: LogHandler?
  /// Commit everything a loop turn appended in one transaction. Turn it off only to measure what
  /// group commit saves: each append then gets its own transaction and fsync.
  public var groupCommit: Bool

  /// The defaults: in memory, `full` durability, warnings and errors logged nowhere.
  public init(
    databasePath: String? = nil, durability: Durability = .full, logLevel: LogLevel = .warn,
    logHandler: LogHandler? = nil, groupCommit: Bool = true
  ) {
    self.databasePath = databasePath
    self.durability = durability
    self.logLevel = logLevel
    self.logHandler = logHandler
    self.groupCommit = groupCommit
  }
}
