/// Why an operation failed. The raw values are the C ABI's `rt_status` codes and never change.
public enum ErrorCode: Int32, Sendable, CaseIterable {
  /// An argument is invalid (`RT_EINVAL`).
  case invalidArgument = -1
  /// A struct's `struct_size` is not understood (`RT_EVERSION`).
  case version = -2
  /// The call is not valid in the current state (`RT_ESTATE`).
  case state = -3
  /// Out of memory or another resource (`RT_ENOMEM`).
  case noMemory = -4
  /// A file could not be opened, created, read or written (`RT_EIO`).
  case io = -5
  /// The database is damaged or is not a database (`RT_ECORRUPT`).
  case corrupt = -6
  /// The database belongs to a newer version or another application (`RT_ESCHEMA`).
  case schema = -7
  /// The database is locked elsewhere (`RT_EBUSY`).
  case busy = -8
  /// The event loop failed (`RT_ELOOP`).
  case loop = -9
  /// The core is stopping or stopped (`RT_ECLOSED`).
  case closed = -10
  /// A time limit passed (`RT_ETIMEDOUT`).
  case timedOut = -11
  /// No such channel, namespace or item (`RT_ENOTFOUND`).
  case notFound = -12
  /// Not allowed for this caller (`RT_EPERM`).
  case forbidden = -13
  /// Data larger than its limit (`RT_ETOOBIG`).
  case tooLarge = -14
  /// Temporarily unable; the same call may succeed when retried (`RT_EAGAIN`).
  case tryAgain = -15
  /// A bug in the library (`RT_EINTERNAL`).
  case `internal` = -99

  /// The static description `rt_strerror` returns.
  public var summary: StaticString {
    switch self {
    case .invalidArgument: "invalid argument"
    case .version: "unsupported struct version"
    case .state: "invalid state for this call"
    case .noMemory: "out of memory"
    case .io: "I/O error"
    case .corrupt: "database is damaged or not a database"
    case .schema: "database schema is newer or foreign"
    case .busy: "database is locked"
    case .loop: "event loop error"
    case .closed: "core is closed"
    case .timedOut: "timed out"
    case .notFound: "not found"
    case .forbidden: "not allowed"
    case .tooLarge: "too large"
    case .tryAgain: "temporarily unavailable; retry"
    case .internal: "internal error"
    }
  }
}

/// An error with its code and a message that says what went wrong and, where it helps, what to do.
public struct RealtimeError: Error, Sendable, CustomStringConvertible {
  /// The category, mapped one-to-one onto `rt_status`.
  public let code: ErrorCode
  /// The detailed message (`rt_core_errmsg`).
  public let message: String

  /// Makes an error from a code and a message.
  public init(_ code: ErrorCode, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { "\(code.summary): \(message)" }
}
