/// The names authorization deals in, their limits, and how a channel or document name says which
/// workspace it belongs to.
///
/// A name is `namespace:rest` (a name without `:` is in the default namespace `""`, its `rest`
/// the whole name) — the channel rule of `ChannelName`, applied to document ids too. In a scoped
/// namespace the workspace is `rest` up to its first `/`: `chat:acme/general` belongs to
/// workspace `acme`. A name of a scoped namespace without such a segment belongs to no workspace
/// and is refused to everyone.
enum AccessNames {
  /// Longest workspace name, in bytes.
  static let maxWorkspaceBytes = 128
  /// Longest user name, in bytes (as `Identity`).
  static let maxUserBytes = 128
  /// Longest channel or document name a rule may be set for (documents allow 256 bytes).
  static let maxNameBytes = 256

  /// Where a name sits: its namespace, and the workspace segment if it has a valid one.
  struct Location: Equatable {
    var namespace: Substring
    var workspace: Substring?
  }

  /// Splits `name` into its namespace and workspace segment. Never fails: a name that is not
  /// well formed has no valid workspace, and a scoped namespace then refuses it.
  static func locate(_ name: String) -> Location {
    guard let colon = name.utf8.firstIndex(of: UInt8(ascii: ":")) else {
      return Location(namespace: "", workspace: workspace(in: name[...]))
    }
    // Advanced in UTF-8, not by `index(after:)`: that steps a whole character, and a combining
    // mark after the `:` would be skipped with it ("docs:\u{65C}acme/x" is in no workspace).
    return Location(namespace: name[..<colon], workspace: workspace(in: name[name.utf8.index(after: colon)...]))
  }

  private static func workspace(in rest: Substring) -> Substring? {
    guard let slash = rest.utf8.firstIndex(of: UInt8(ascii: "/")) else { return nil }
    let segment = rest[..<slash]
    return isValidWorkspace(segment) ? segment : nil
  }

  /// 1 to 128 bytes, each one a channel name may hold except `/` and `:` (ASCII letters, digits
  /// and `_ - . @ = + ~ !`), so every workspace can appear in a channel name.
  static func isValidWorkspace<S: StringProtocol>(_ name: S) -> Bool {
    let bytes = name.utf8
    guard (1...maxWorkspaceBytes).contains(bytes.count) else { return false }
    return bytes.allSatisfy { byte in
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"):
        true
      case UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "@"), UInt8(ascii: "="),
        UInt8(ascii: "+"), UInt8(ascii: "~"), UInt8(ascii: "!"):
        true
      default: false
      }
    }
  }

  /// Refuses a workspace name outside `isValidWorkspace`.
  static func checkWorkspace(_ name: String) throws(RealtimeError) {
    guard isValidWorkspace(name) else {
      throw RealtimeError(
        .invalidArgument,
        "a workspace name must be 1 to \(maxWorkspaceBytes) bytes of ASCII letters, digits and _ - . @ = + ~ !")
    }
  }

  /// 1 to 128 bytes of UTF-8 without control characters: the users `Identity` names (a user
  /// with control characters can connect, but cannot be a member of anything).
  static func checkUser(_ name: String) throws(RealtimeError) {
    let bytes = name.utf8
    guard (1...maxUserBytes).contains(bytes.count), !bytes.contains(where: { $0 < 0x20 || $0 == 0x7f }) else {
      throw RealtimeError(.invalidArgument, "a user name must be 1 to \(maxUserBytes) bytes without control characters")
    }
  }

  /// 1 to 256 bytes without NUL: a channel name or a document id.
  static func checkName(_ name: String) throws(RealtimeError) {
    let bytes = name.utf8
    guard (1...maxNameBytes).contains(bytes.count), !bytes.contains(0) else {
      throw RealtimeError(.invalidArgument, "a channel or document name must be 1 to \(maxNameBytes) bytes without NUL")
    }
  }
}

/// A user or a channel or document name compared byte for byte. Swift's `String` equality is
/// canonical equivalence (`"é"` equals `"e\u{301}"`), but the store and identities tell those
/// apart: keyed by `String`, one user would get another's membership, and a rule of one document
/// would apply to a different one.
struct ExactName: Hashable {
  let text: String

  init(_ text: String) { self.text = text }

  static func == (lhs: ExactName, rhs: ExactName) -> Bool { lhs.text.utf8.elementsEqual(rhs.text.utf8) }

  func hash(into hasher: inout Hasher) {
    var copy = text
    copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
  }
}
