/// Why the server ends a session: the `code` of a `disconnect` message, which is also the code
/// of the WebSocket close frame that follows it. Codes 4000–4999 are this protocol's
/// (`docs/protocol.md`); `reconnect` in the message tells the client whether to come back.
public enum DisconnectCode {
  /// The server is shutting down or restarting (RFC 6455's "going away"); reconnect.
  public static let goingAway = CloseCode.goingAway
  /// The client asked for a protocol version this server does not speak; do not reconnect.
  public static let unsupportedVersion = CloseCode(rawValue: 4002)
  /// The credentials were refused; reconnect only with new ones.
  public static let unauthorized = CloseCode(rawValue: 4003)
  /// No `connect` came within the connect timeout; reconnect.
  public static let connectTimeout = CloseCode(rawValue: 4004)
  /// The client did not keep up with its subscriptions; reconnect and resubscribe with the last
  /// offsets seen to recover from history.
  public static let slowConsumer = CloseCode(rawValue: 4005)
  /// The client kept sending past its rate limits after being told to wait; reconnect later.
  public static let rateLimited = CloseCode(rawValue: 4006)
  /// The connection's access token expired (at the upgrade, or while connected): refresh it and
  /// reconnect with the new one.
  public static let tokenExpired = CloseCode(rawValue: 4011)
  /// The connection's session was revoked (logout, a forgotten device, refresh token reuse):
  /// its tokens are dead; log in again, do not retry them.
  public static let sessionRevoked = CloseCode(rawValue: 4012)
}
