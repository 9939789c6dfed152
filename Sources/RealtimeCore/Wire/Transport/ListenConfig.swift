/// Limits and options of a TCP WebSocket listener. Every limit has a safe default.
public struct ListenConfig: Sendable {
  /// The WebSocket session rules: path, head limits, message size, Origin allowlist.
  public var session: SessionConfig
  /// Open connections in total; more are answered 503 and closed.
  public var maxConnections: Int
  /// Open connections from one IP address; more are answered 503 and closed.
  public var maxConnectionsPerIP: Int
  /// Connections still in their opening handshake; more are answered 503 and closed.
  public var maxPendingHandshakes: Int
  /// Time to complete the opening handshake (slowloris guard), in milliseconds; then 408.
  public var handshakeTimeoutMs: UInt64
  /// Time from the upgrade to the client's `connect` message, in milliseconds; then the session
  /// ends with `disconnect` 4004.
  public var connectTimeoutMs: UInt64
  /// Bytes queued for one client before it counts as a slow consumer and is closed with 1008.
  public var maxWriteQueueBytes: Int
  /// Time allowed for a closing handshake before the connection is dropped, in milliseconds.
  public var closeTimeoutMs: UInt64
  /// A client silent for half this long is pinged; silent for all of it, it is closed with 1001.
  public var idleTimeoutMs: UInt64

  /// Defaults: 10,000 connections, 256 per IP, 1,024 handshaking, 10 s handshake, 10 s to
  /// `connect`, 4 MiB queue, 5 s close, 60 s idle.
  public init(
    session: SessionConfig = SessionConfig(), maxConnections: Int = 10_000, maxConnectionsPerIP: Int = 256,
    maxPendingHandshakes: Int = 1024, handshakeTimeoutMs: UInt64 = 10_000, maxWriteQueueBytes: Int = 4 << 20,
    closeTimeoutMs: UInt64 = 5_000, idleTimeoutMs: UInt64 = 60_000, connectTimeoutMs: UInt64 = 10_000
  ) {
    self.connectTimeoutMs = connectTimeoutMs
    self.session = session
    self.maxConnections = maxConnections
    self.maxConnectionsPerIP = maxConnectionsPerIP
    self.maxPendingHandshakes = maxPendingHandshakes
    self.handshakeTimeoutMs = handshakeTimeoutMs
    self.maxWriteQueueBytes = maxWriteQueueBytes
    self.closeTimeoutMs = closeTimeoutMs
    self.idleTimeoutMs = idleTimeoutMs
  }
}
