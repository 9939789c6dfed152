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

/// Who a connection is, as the host's authentication hook says: a user and one of their
/// devices (each 1 to 128 bytes). Receipts and unread counts are kept per identity.
public struct Identity: Sendable, Hashable {
  public let user: String
  public let device: String

  /// Nil unless both are 1 to 128 bytes.
  public init?(user: String, device: String) {
    guard (1...128).contains(user.utf8.count), (1...128).contains(device.utf8.count) else { return nil }
    self.user = user
    self.device = device
  }
}

/// An authentication hook's answer.
public enum AuthDecision: Sendable, Equatable {
  /// Let the client in, as `identity` if the host knows who it is (anonymous otherwise).
  case allow(Identity?)
  /// Refuse with 401 (no or unusable credentials) or 403 (credentials not good enough) and a
  /// message for the client.
  case deny(status: Int, message: String)
}

/// Decides whether an upgrade may proceed; runs on the loop thread during the handshake.
public typealias AuthHook = @Sendable (AuthRequest) -> AuthDecision

/// A plain HTTP request (not to the WebSocket path) as an HTTP handler sees it.
public struct HTTPRequestInfo: Sendable {
  public let method: String
  /// The path, without the query.
  public let path: String
  public let query: String?
}

/// A complete answer to a plain HTTP request; the connection closes after it.
public struct HTTPResponse: Sendable {
  public var status: Int
  public var contentType: String
  public var body: [UInt8]

  public init(status: Int, contentType: String, body: [UInt8]) {
    self.status = status
    self.contentType = contentType
    self.body = body
  }
}

/// Answers plain HTTP requests (e.g. static files); nil falls through to 404. Loop thread.
public typealias HTTPHandler = @Sendable (HTTPRequestInfo) -> HTTPResponse?

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
  /// Limits on the fields of protocol messages.
  public var envelope = EnvelopeLimits()
  /// Answers requests to other paths than `path`; nil answers them all with 404.
  public var httpHandler: HTTPHandler?
  /// Whether the core checks the upgrade's access token itself (`docs/security.md`, "Tokens on
  /// the WebSocket upgrade"). A valid token names the client (its `sub` and `device`) and the
  /// hook is not asked; an expired one is accepted and closed with 4011, one of a revoked
  /// session with 4012; a missing (when required) or forged one gets 401.
  public var tokenAuth = TokenAuth.off
  /// The core's tokens, set by the core when it listens.
  var tokenGate: TokenGate?

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
