/// The kinds of protocol messages, with their JSON names and binary codes (`docs/protocol.md`).
/// Codes are part of the wire format: never renumber one.
public enum MessageType: UInt8, Sendable, CaseIterable {
  /// Client → server, first message of a session: protocol version, optional credential.
  case connect = 1
  /// Server → client: the answer to `connect`.
  case connected = 2
  /// Client → server: answered by `pong` with the same id and data.
  case ping = 3
  /// Server → client: the answer to `ping`.
  case pong = 4
  /// Server → client: a request failed (code, message, optional retry delay).
  case error = 5
  /// Server → client: the server ends the session (code, reason, whether to reconnect).
  case disconnect = 6

  /// The name in JSON's `"type"` field.
  public var name: String {
    switch self {
    case .connect: "connect"
    case .connected: "connected"
    case .ping: "ping"
    case .pong: "pong"
    case .error: "error"
    case .disconnect: "disconnect"
    }
  }

  /// The type named `name` in JSON, if any.
  init?(name: some Collection<UInt8>) {
    guard let found = Self.allCases.first(where: { $0.name.utf8.elementsEqual(name) }) else { return nil }
    self = found
  }

  /// Whether clients may send this type; the others are the server's.
  public var isClientMessage: Bool {
    switch self {
    case .connect, .ping: true
    case .connected, .pong, .error, .disconnect: false
    }
  }
}
