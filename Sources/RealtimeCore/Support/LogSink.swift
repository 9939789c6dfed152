/// Severity of a log message; a message is delivered when its level is at or below the sink's.
public enum LogLevel: Int32, Sendable, Comparable {
  case off = 0
  case error = 1
  case warn = 2
  case info = 3
  case debug = 4

  public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// Receives log messages on whichever thread produced them; must be thread-safe.
public typealias LogHandler = @Sendable (LogLevel, String) -> Void

/// Filters by level before a message is even formatted, then hands it to the host's handler.
struct LogSink: Sendable {
  let level: LogLevel
  let handler: LogHandler?

  @inline(__always)
  func callAsFunction(_ level: LogLevel, _ message: @autoclosure () -> String) {
    guard level != .off, level <= self.level, let handler else { return }
    handler(level, message())
  }
}
