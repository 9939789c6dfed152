/// What an authentication hook sees of an upgrade request.
public struct AuthRequest: Sendable {
  /// The credential the client sent: the `token` query parameter, else an
  /// `Authorization: Bearer` value; nil when it sent none. Browsers cannot set headers on a
  /// WebSocket, so they use the query.
  public let token: String?
  /// The Origin field, if any.
  public let origin: String?
  /// The request path.
  public let path: String
}

/// An authentication hook's answer.
public enum AuthDecision: Sendable, Equatable {
  case allow
  /// Refuse with 401 (no or unusable credentials) or 403 (credentials not good enough) and a
  /// message for the client.
  case deny(status: Int, message: String)
}

/// Decides whether an upgrade may proceed; runs on the loop thread during the handshake.
public typealias AuthHook = @Sendable (AuthRequest) -> AuthDecision

/// How a WebSocket session accepts and limits a client.
public struct SessionConfig: Sendable {
  /// The path of the WebSocket endpoint; other paths get 404.
  public var path: String
  /// Request head limits.
  public var http: HTTPLimits
  /// Largest message, all fragments together (1009 beyond it).
  public var maxMessageBytes: Int
  /// Origins allowed to connect (exact `scheme://host[:port]` matches); nil allows any. A request
  /// without an Origin field (not a browser) is allowed either way.
  public var allowedOrigins: [String]?
  /// Called for every upgrade that passed the other checks; nil lets everyone in.
  public var authenticate: AuthHook?

  /// Defaults: endpoint `/ws`, 16 KiB / 64-field heads, 1 MiB messages, any origin.
  public init(
    path: String = "/ws", http: HTTPLimits = HTTPLimits(), maxMessageBytes: Int = 1 << 20,
    allowedOrigins: [String]? = nil, authenticate: AuthHook? = nil
  ) {
    self.path = path
    self.http = http
    self.maxMessageBytes = maxMessageBytes
    self.allowedOrigins = allowedOrigins
    self.authenticate = authenticate
  }
}
