/// A user's standing in a workspace, ordered: `owner > admin > member > guest > none`. `none` is
/// everyone who is not a member, anonymous connections included. The raw values are the C ABI's
/// `RT_ROLE_*` constants and never change.
public enum Role: Int, Sendable, Comparable, CaseIterable {
  case none = 0
  case guest = 1
  case member = 2
  case admin = 3
  case owner = 4

  public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rawValue < rhs.rawValue }

  /// The canonical name: "none", "guest", "member", "admin" or "owner".
  public var name: String {
    switch self {
    case .none: "none"
    case .guest: "guest"
    case .member: "member"
    case .admin: "admin"
    case .owner: "owner"
    }
  }

  /// A role by name, ASCII case-insensitive: the canonical names, and the example seeds' titles
  /// "ceo" (owner), "manager" (admin) and "staff" (member). Hosts with other titles map them
  /// themselves; nil for anything else.
  public init?(name: String) {
    guard name.utf8.count <= 16 else { return nil }
    switch String(decoding: name.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self) {
    case "none": self = .none
    case "guest": self = .guest
    case "member", "staff": self = .member
    case "admin", "manager": self = .admin
    case "owner", "ceo": self = .owner
    default: return nil
    }
  }
}

/// What a client asks to do with a channel or document over the protocol. The raw values are
/// the C ABI's `RT_ACCESS_*` constants and never change.
public enum AccessAction: Int, Sendable, CaseIterable {
  /// `subscribe` and `receipt`.
  case subscribe = 0
  /// `publish`.
  case publish = 1
  /// `presence`, `presence_list`, `typing`, and being shown in (and told of) the channel's presence.
  case presence = 2
  /// `history`, and the replay of a `subscribe` that recovers from an offset.
  case history = 3
  /// `doc_sync` and `chunk_get`: reading a document and its file chunks, and its live updates.
  case docRead = 4
  /// `doc_update` and `chunk`: changing a document and uploading its file chunks.
  case docWrite = 5

  /// The lowercase name used in logs and by the example server ("doc_read", ...).
  public var name: String {
    switch self {
    case .subscribe: "subscribe"
    case .publish: "publish"
    case .presence: "presence"
    case .history: "history"
    case .docRead: "doc_read"
    case .docWrite: "doc_write"
    }
  }

  /// An action by its `name`; nil for anything else.
  public init?(name: String) {
    guard let action = AccessAction.allCases.first(where: { $0.name == name }) else { return nil }
    self = action
  }
}

/// The least role each action needs, for a scoped namespace (or as one channel's overrides).
public struct AccessRules: Sendable, Equatable {
  /// Indexed by `AccessAction.rawValue`.
  private var minimum: [Role]

  /// Defaults for a workspace's channels: guests read (subscribe, presence, history, documents),
  /// members also write (publish, document changes).
  public init() {
    minimum = [.guest, .member, .guest, .guest, .guest, .member]
  }

  /// The least role `action` needs.
  public subscript(action: AccessAction) -> Role {
    get { minimum[action.rawValue] }
    set { minimum[action.rawValue] = newValue }
  }
}
