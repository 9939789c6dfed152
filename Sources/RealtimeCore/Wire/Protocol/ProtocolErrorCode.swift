/// The code of an `error` message: a number in the binary encoding, a name in JSON. Part of the
/// wire format (`docs/protocol.md`): codes are never renumbered or renamed.
public struct ProtocolErrorCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
  public let rawValue: UInt64
  public init(rawValue: UInt64) { self.rawValue = rawValue }

  /// The message could not be decoded, or a field is missing, mistyped or out of bounds.
  public static let badRequest = ProtocolErrorCode(rawValue: 1)
  /// The `type` is not one this server knows, or is one only the server sends.
  public static let unknownType = ProtocolErrorCode(rawValue: 2)
  /// The client asked for a protocol version this server does not speak.
  public static let unsupportedVersion = ProtocolErrorCode(rawValue: 3)
  /// A request other than `connect` or `ping` came before `connect`.
  public static let notConnected = ProtocolErrorCode(rawValue: 4)
  /// A second `connect` on the same session.
  public static let alreadyConnected = ProtocolErrorCode(rawValue: 5)
  /// Missing or unusable credentials.
  public static let unauthorized = ProtocolErrorCode(rawValue: 6)
  /// The credentials do not allow this.
  public static let forbidden = ProtocolErrorCode(rawValue: 7)
  /// A field is larger than its limit.
  public static let tooLarge = ProtocolErrorCode(rawValue: 8)
  /// Too many requests; `retry_after_ms` says when to try again.
  public static let rateLimited = ProtocolErrorCode(rawValue: 9)
  /// The server failed; the request may be retried.
  public static let internalError = ProtocolErrorCode(rawValue: 10)
  /// No such channel or namespace.
  public static let notFound = ProtocolErrorCode(rawValue: 11)
  /// Temporarily unable; retry the same request.
  public static let tryAgain = ProtocolErrorCode(rawValue: 12)
  /// A server limit was reached (subscriptions per connection, channels).
  public static let limitExceeded = ProtocolErrorCode(rawValue: 13)

  /// The protocol code for a library error.
  init(_ code: ErrorCode) {
    switch code {
    case .invalidArgument, .version: self = .badRequest
    case .notFound: self = .notFound
    case .forbidden: self = .forbidden
    case .tooLarge: self = .tooLarge
    case .tryAgain, .busy, .timedOut, .closed: self = .tryAgain
    case .noMemory: self = .limitExceeded
    default: self = .internalError
    }
  }

  private static let names: [(ProtocolErrorCode, String)] = [
    (.badRequest, "bad_request"), (.unknownType, "unknown_type"), (.unsupportedVersion, "unsupported_version"),
    (.notConnected, "not_connected"), (.alreadyConnected, "already_connected"), (.unauthorized, "unauthorized"),
    (.forbidden, "forbidden"), (.tooLarge, "too_large"), (.rateLimited, "rate_limited"),
    (.internalError, "internal"), (.notFound, "not_found"), (.tryAgain, "try_again"),
    (.limitExceeded, "limit_exceeded"),
  ]

  /// The JSON name, nil for a code this version does not know (JSON then carries the number).
  public var knownName: String? {
    Self.names.first { $0.0 == self }?.1
  }

  /// The JSON name, or the number for a code this version does not know.
  public var name: String { knownName ?? String(rawValue) }

  /// The code named `name` in JSON, if any.
  init?(name: some Collection<UInt8>) {
    guard let found = Self.names.first(where: { $0.1.utf8.elementsEqual(name) }) else { return nil }
    self = found.0
  }

  public var description: String { name }
}

/// A message that cannot be served: becomes an `error` message to the client. Carries the
/// request's id when the decoder had read it, so the client can match the error to its request.
public struct ProtocolFault: Error, Sendable, Equatable {
  public var code: ProtocolErrorCode
  public var message: String
  public var id: UInt64?

  public init(_ code: ProtocolErrorCode, _ message: String, id: UInt64? = nil) {
    self.code = code
    self.message = message
    self.id = id
  }
}
