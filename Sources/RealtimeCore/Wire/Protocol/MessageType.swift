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
  /// Client → server: receive a channel's messages, optionally from a position (recovery).
  case subscribe = 7
  /// Server → client: the answer to `subscribe`: the channel's epoch and newest offset.
  case subscribed = 8
  /// Client → server: stop receiving a channel's messages.
  case unsubscribe = 9
  /// Server → client: a subscription ended (the answer to `unsubscribe`, or the server's doing).
  case unsubscribed = 10
  /// Client → server: send a message to a channel; answered by `ack` with its offset.
  case publish = 11
  /// Server → client: a request succeeded (`publish`: the message's offset; `history`: the end).
  case ack = 12
  /// Server → client: a channel's message (live, replayed on recovery, or from `history`).
  case message = 13
  /// Client → server: read a channel's stored messages.
  case history = 14
  /// Server → client: messages of a channel between `after` and `before` were dropped for this
  /// slow client (a channel whose policy drops the oldest); history may still have them.
  case gap = 15
  /// Client → server: the client received, or read, a channel's messages up to `offset`;
  /// answered by `ack`. Server → client: another member's receipt.
  case receipt = 16
  /// Client → server: set the client's presence status and meta in a channel; answered by `ack`.
  /// Server → client: who joined, left or changed in a channel (a diff, in `data`).
  case presence = 17
  /// Client → server: a page of a channel's presence; answered by `presence_list` with the page.
  case presenceList = 18
  /// Client → server: the user is typing in a channel (no answer). Server → client: a member is.
  case typing = 19
  /// Either way: "here is my state vector (`data`) of document `doc`; send me what I lack".
  /// The server answers with `doc_update` and its own `doc_sync`, and from then on passes the
  /// client every change of the document.
  case docSync = 20
  /// Either way: an update of document `doc` (`data`).
  case docUpdate = 21
  /// Either way: a chunk of a file (`data`) under its hash (`key`, 64 hex digits), for file
  /// document `doc`. Client → server: an upload, answered by `ack`. Server → client: the answer
  /// to `chunk_get`.
  case chunk = 22
  /// Client → server: "send me chunk `key` of file document `doc`"; answered by `chunk`.
  case chunkGet = 23
  /// Client → server: a new access token (`token`) for this connection, of the same user and
  /// device, so it outlives the one it connected with; answered by `ack`. Needs token auth.
  case refresh = 24

  /// The name in JSON's `"type"` field.
  public var name: String {
    switch self {
    case .connect: "connect"
    case .connected: "connected"
    case .ping: "ping"
    case .pong: "pong"
    case .error: "error"
    case .disconnect: "disconnect"
    case .subscribe: "subscribe"
    case .subscribed: "subscribed"
    case .unsubscribe: "unsubscribe"
    case .unsubscribed: "unsubscribed"
    case .publish: "publish"
    case .ack: "ack"
    case .message: "message"
    case .history: "history"
    case .gap: "gap"
    case .receipt: "receipt"
    case .presence: "presence"
    case .presenceList: "presence_list"
    case .typing: "typing"
    case .docSync: "doc_sync"
    case .docUpdate: "doc_update"
    case .chunk: "chunk"
    case .chunkGet: "chunk_get"
    case .refresh: "refresh"
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
    case .connect, .ping, .subscribe, .unsubscribe, .publish, .history, .receipt, .presence, .presenceList, .typing,
      .docSync, .docUpdate, .chunk, .chunkGet, .refresh:
      true
    case .connected, .pong, .error, .disconnect, .subscribed, .unsubscribed, .ack, .message, .gap: false
    }
  }
}
