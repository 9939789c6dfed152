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

  /// Defaults: endpoint `/ws`, 16 KiB / 64-field heads, 1 MiB messages, any origin.
  public init(
    path: String = "/ws", http: HTTPLimits = HTTPLimits(), maxMessageBytes: Int = 1 << 20,
    allowedOrigins: [String]? = nil
  ) {
    self.path = path
    self.http = http
    self.maxMessageBytes = maxMessageBytes
    self.allowedOrigins = allowedOrigins
  }
}
