/// One protocol message in either encoding: its type and the fields it carries (`docs/protocol.md`
/// lists which type uses which). Fields a message does not carry are nil. `data` is opaque: the
/// raw JSON value in the JSON encoding, raw bytes in the binary one; it shares the received
/// message's storage rather than copying it.
public struct Envelope: Sendable, Equatable {
  public var type: MessageType
  /// The client's request id, echoed in the answer (`pong`, `connected`, `error`).
  public var id: UInt64?
  /// The protocol version (`connect`, `connected`).
  public var version: UInt64?
  /// A credential (`connect`).
  public var token: String?
  /// The client's name and version, for logs (`connect`).
  public var client: String?
  /// The opaque payload (`ping`, `pong`).
  public var data: ArraySlice<UInt8>?
  /// The error code (`error`: a `ProtocolErrorCode`) or close code (`disconnect`).
  public var code: UInt64?
  /// A human-readable explanation (`error`).
  public var message: String?
  /// A human-readable explanation (`disconnect`).
  public var reason: String?
  /// Whether the client should reconnect (`disconnect`).
  public var reconnect: Bool?
  /// When the request may be retried, in milliseconds (`error` with `rate_limited`).
  public var retryAfterMs: UInt64?
  /// The server's id of this session (`connected`).
  public var session: String?
  /// The server's name (`connected`).
  public var server: String?
  /// How often the server pings a silent client, in milliseconds (`connected`).
  public var pingIntervalMs: UInt64?
  /// The largest message the server accepts, in bytes (`connected`).
  public var maxMessageBytes: UInt64?

  public init(_ type: MessageType, id: UInt64? = nil) {
    self.type = type
    self.id = id
  }
}

/// The two encodings of the protocol: JSON in text frames, the compact binary form in binary
/// frames. A session answers each request in the encoding it came in and sends its own messages
/// in the encoding of the client's `connect`.
public enum EnvelopeEncoding: Sendable, Equatable {
  case json
  case binary
}

/// Limits on fields of received messages (the message size itself is the WebSocket limit).
public struct EnvelopeLimits: Sendable, Equatable {
  /// Longest `token`, in bytes.
  public var maxTokenBytes: Int
  /// Longest `client`, in bytes.
  public var maxClientBytes: Int
  /// Deepest nesting of arrays and objects inside a JSON `data` value.
  public var maxDepth: Int

  /// Defaults: 4 KiB tokens, 256-byte client names, depth 64.
  public init(maxTokenBytes: Int = 4096, maxClientBytes: Int = 256, maxDepth: Int = 64) {
    self.maxTokenBytes = maxTokenBytes
    self.maxClientBytes = maxClientBytes
    self.maxDepth = maxDepth
  }
}

/// The fields of an envelope: their JSON keys, binary field numbers and value kinds. Field
/// numbers are part of the wire format: never renumber one.
enum EnvelopeField: UInt64, CaseIterable {
  case id = 1
  case version = 2
  case token = 3
  case client = 4
  case data = 5
  case code = 6
  case message = 7
  case reason = 8
  case reconnect = 9
  case retryAfterMs = 10
  case session = 11
  case server = 12
  case pingIntervalMs = 13
  case maxMessageBytes = 14

  enum Kind {
    case integer
    case string
    case bool
    case data
  }

  var key: String {
    switch self {
    case .id: "id"
    case .version: "v"
    case .token: "token"
    case .client: "client"
    case .data: "data"
    case .code: "code"
    case .message: "message"
    case .reason: "reason"
    case .reconnect: "reconnect"
    case .retryAfterMs: "retry_after_ms"
    case .session: "session"
    case .server: "server"
    case .pingIntervalMs: "ping_interval_ms"
    case .maxMessageBytes: "max_message_bytes"
    }
  }

  var kind: Kind {
    switch self {
    case .id, .version, .code, .retryAfterMs, .pingIntervalMs, .maxMessageBytes: .integer
    case .token, .client, .message, .reason, .session, .server: .string
    case .reconnect: .bool
    case .data: .data
    }
  }

  init?(key: some Collection<UInt8>) {
    guard let found = Self.allCases.first(where: { $0.key.utf8.elementsEqual(key) }) else { return nil }
    self = found
  }

  /// The longest a string field may be, in bytes.
  func maxBytes(_ limits: EnvelopeLimits) -> Int {
    switch self {
    case .token: limits.maxTokenBytes
    case .client: limits.maxClientBytes
    default: Int.max
    }
  }
}

extension Envelope {
  /// Stores an integer field (the caller checked the field's kind).
  mutating func set(_ field: EnvelopeField, integer value: UInt64) {
    switch field {
    case .id: id = value
    case .version: version = value
    case .code: code = value
    case .retryAfterMs: retryAfterMs = value
    case .pingIntervalMs: pingIntervalMs = value
    case .maxMessageBytes: maxMessageBytes = value
    default: break
    }
  }

  /// Stores a string field.
  mutating func set(_ field: EnvelopeField, string value: String) {
    switch field {
    case .token: token = value
    case .client: client = value
    case .message: message = value
    case .reason: reason = value
    case .session: session = value
    case .server: server = value
    default: break
    }
  }

  /// A field's value, as the writers see it.
  enum FieldValue {
    case integer(UInt64)
    case string(String)
    case bool(Bool)
    case data(ArraySlice<UInt8>)
  }

  /// Calls `body` with every field that is set, in field-number order.
  func forEachField(_ body: (EnvelopeField, FieldValue) -> Void) {
    if let id { body(.id, .integer(id)) }
    if let version { body(.version, .integer(version)) }
    if let token { body(.token, .string(token)) }
    if let client { body(.client, .string(client)) }
    if let data { body(.data, .data(data)) }
    if let code { body(.code, .integer(code)) }
    if let message { body(.message, .string(message)) }
    if let reason { body(.reason, .string(reason)) }
    if let reconnect { body(.reconnect, .bool(reconnect)) }
    if let retryAfterMs { body(.retryAfterMs, .integer(retryAfterMs)) }
    if let session { body(.session, .string(session)) }
    if let server { body(.server, .string(server)) }
    if let pingIntervalMs { body(.pingIntervalMs, .integer(pingIntervalMs)) }
    if let maxMessageBytes { body(.maxMessageBytes, .integer(maxMessageBytes)) }
  }
}
