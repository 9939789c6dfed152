/// One protocol message in either encoding: its type and the fields it carries (`docs/protocol.md`
/// lists which type uses which). Fields a message does not carry are nil. `data` is opaque: a raw
/// JSON value (`dataIsJSON`) or any bytes; a decoded message's `data` shares the received
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
  /// The opaque payload (`ping`, `pong`, `publish`, `message`).
  public var data: ArraySlice<UInt8>?
  /// Whether `data` is one JSON value (sent as `data` in JSON) or any bytes (sent as base64
  /// `data_b64` in JSON). Binary messages mark JSON data with the `json` field.
  public var dataIsJSON = false
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
  /// A channel name (`subscribe`, `publish`, `message`, ...).
  public var channel: String?
  /// A position in a channel: the message's (`message`), the newest (`subscribed`, `ack`), or the
  /// last one the client saw (`subscribe`).
  public var offset: UInt64?
  /// The channel's epoch: offsets compare only within one epoch.
  public var epoch: String?
  /// Whether a subscription continued from the client's position with nothing missing.
  public var recovered: Bool?
  /// A publisher's key that makes a retried publish store nothing twice.
  public var idempotencyKey: String?
  /// History bounds: offsets below `before`, above `after`, at most `limit` of them.
  public var before: UInt64?
  public var after: UInt64?
  public var limit: UInt64?
  /// When the message was published, in milliseconds since 1970 (`message`).
  public var time: UInt64?
  /// The client takes several messages in one frame (`connect`); granted (`connected`).
  public var batch: Bool?
  /// A receipt's kind: `delivered` or `read` (`receipt`).
  public var status: String?
  /// Who a receipt is from (`receipt` events).
  public var user: String?
  public var device: String?
  /// Messages after the newest one the user has read (`subscribed`, for identified clients).
  public var unread: UInt64?
  /// A publish's coalescing key (`publish`, `message`): in a namespace whose slow-consumer policy
  /// is `coalesce`, a newer message with the same key replaces an older one held for a slow client.
  public var key: String?
  /// A replicated document's id (`doc_sync`, `doc_update`).
  public var doc: String?
  /// A document's kind, `text` or `tasks` (`doc_sync`).
  public var kind: String?

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
  /// Longest `channel`, in bytes.
  public var maxChannelBytes = 255
  /// Longest `epoch`, in bytes.
  public var maxEpochBytes = 64
  /// Longest `idempotency_key` and `key`, in bytes.
  public var maxIdempotencyKeyBytes = 128

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
  case channel = 15
  case offset = 16
  case epoch = 17
  case recovered = 18
  case idempotencyKey = 19
  case before = 20
  case after = 21
  case limit = 22
  case time = 23
  /// Binary only: `data` holds one JSON value.
  case json = 24
  case batch = 25
  case status = 26
  case user = 27
  case device = 28
  case unread = 29
  case key = 30
  case doc = 31
  case kind = 32

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
    case .channel: "channel"
    case .offset: "offset"
    case .epoch: "epoch"
    case .recovered: "recovered"
    case .idempotencyKey: "idempotency_key"
    case .before: "before"
    case .after: "after"
    case .limit: "limit"
    case .time: "time"
    case .json: "json"
    case .batch: "batch"
    case .status: "status"
    case .user: "user"
    case .device: "device"
    case .unread: "unread"
    case .key: "key"
    case .doc: "doc"
    case .kind: "kind"
    }
  }

  var kind: Kind {
    switch self {
    case .id, .version, .code, .retryAfterMs, .pingIntervalMs, .maxMessageBytes, .offset, .before, .after, .limit,
      .time, .unread:
      .integer
    case .token, .client, .message, .reason, .session, .server, .channel, .epoch, .idempotencyKey, .status, .user,
      .device, .key, .doc, .kind:
      .string
    case .reconnect, .recovered, .json, .batch: .bool
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
    case .channel: limits.maxChannelBytes
    case .epoch: limits.maxEpochBytes
    case .idempotencyKey, .key: limits.maxIdempotencyKeyBytes
    case .status, .user, .device: 128
    case .doc: 256
    case .kind: 16
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
    case .offset: offset = value
    case .before: before = value
    case .after: after = value
    case .limit: limit = value
    case .time: time = value
    case .unread: unread = value
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
    case .channel: channel = value
    case .epoch: epoch = value
    case .idempotencyKey: idempotencyKey = value
    case .status: status = value
    case .user: user = value
    case .device: device = value
    case .key: key = value
    case .doc: doc = value
    case .kind: kind = value
    default: break
    }
  }

  /// Stores a boolean field (`json` is the decoder's business, not a field of its own).
  mutating func set(_ field: EnvelopeField, bool value: Bool) {
    switch field {
    case .reconnect: reconnect = value
    case .recovered: recovered = value
    case .batch: batch = value
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
    if let channel { body(.channel, .string(channel)) }
    if let offset { body(.offset, .integer(offset)) }
    if let epoch { body(.epoch, .string(epoch)) }
    if let recovered { body(.recovered, .bool(recovered)) }
    if let idempotencyKey { body(.idempotencyKey, .string(idempotencyKey)) }
    if let before { body(.before, .integer(before)) }
    if let after { body(.after, .integer(after)) }
    if let limit { body(.limit, .integer(limit)) }
    if let time { body(.time, .integer(time)) }
    if let batch { body(.batch, .bool(batch)) }
    if let status { body(.status, .string(status)) }
    if let user { body(.user, .string(user)) }
    if let device { body(.device, .string(device)) }
    if let unread { body(.unread, .integer(unread)) }
    if let key { body(.key, .string(key)) }
    if let doc { body(.doc, .string(doc)) }
    if let kind { body(.kind, .string(kind)) }
  }
}
