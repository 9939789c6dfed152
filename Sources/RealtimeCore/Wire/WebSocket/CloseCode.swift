/// WebSocket close status codes (RFC 6455 §7.4 and the IANA registry).
public struct CloseCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
  public let rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }

  public static let normal = CloseCode(rawValue: 1000)
  public static let goingAway = CloseCode(rawValue: 1001)
  public static let protocolError = CloseCode(rawValue: 1002)
  public static let unsupportedData = CloseCode(rawValue: 1003)
  /// Never sent: stands for "the close frame had no code".
  public static let noStatus = CloseCode(rawValue: 1005)
  public static let invalidPayload = CloseCode(rawValue: 1007)
  public static let policyViolation = CloseCode(rawValue: 1008)
  public static let messageTooBig = CloseCode(rawValue: 1009)
  public static let internalError = CloseCode(rawValue: 1011)
  public static let tryAgainLater = CloseCode(rawValue: 1013)

  /// Whether a peer may send this code in a close frame: 1000–1003, 1007–1014 and the
  /// application/private range 3000–4999. 1004–1006 and 1015 are reserved, never on the wire.
  public var isValidOnTheWire: Bool {
    switch rawValue {
    case 1000...1003, 1007...1014, 3000...4999: true
    default: false
    }
  }

  public var description: String { String(rawValue) }
}
