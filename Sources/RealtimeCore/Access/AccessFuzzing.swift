extension FuzzEntry {
  /// The fuzz target's authorization: `chat` and the default namespace scoped with the default
  /// rules, and in workspace `acme` one user of every role, named after it.
  static let accessFuzzControl: Access = {
    var state = Access.State()
    state.scoped[ExactName("chat")] = AccessRules()
    state.scoped[ExactName("")] = AccessRules()
    for role in Role.allCases where role != .none {
      state.members["acme", default: [:]][ExactName(role.name)] = role
      state.memberCount += 1
    }
    state.rules[ExactName("chat:acme/news"), default: [:]][.publish] = .admin
    state.ruleCount = 1
    return Access(state: state)
  }()

  /// Feeds `bytes` (as UTF-8, invalid sequences replaced) to the name and role parsers of
  /// authorization, as a client's channel or document name. Returns -2 when an invariant broke:
  /// a workspace found is not a valid one or not where the name says; a name of a scoped
  /// namespace without a workspace is allowed to someone; a role is allowed what a lower one is
  /// refused; a parsed role name does not name the same role back. Otherwise 1 when the name
  /// has a workspace, 0 when not.
  public static func accessName(_ bytes: UnsafeRawBufferPointer) -> Int {
    let name = String(decoding: bytes, as: UTF8.self)
    let location = AccessNames.locate(name)
    let access = accessFuzzControl
    if let workspace = location.workspace {
      guard AccessNames.isValidWorkspace(workspace) else { return -2 }
      let prefix =
        location.namespace.isEmpty && !name.utf8.contains(UInt8(ascii: ":"))
        ? "\(workspace)/" : "\(location.namespace):\(workspace)/"
      // Bytes, not `hasPrefix`: that compares characters, and a combining mark after the `/`
      // makes it part of another character.
      guard name.utf8.starts(with: prefix.utf8) else { return -2 }
    }
    let scoped = access.isScoped(name)
    for action in AccessAction.allCases {
      var allowedBelow = false
      for role in [Role.none, .guest, .member, .admin, .owner] {
        let allowed = access.allows(role == .none ? nil : role.name, action, on: name)
        if scoped && location.workspace == nil && allowed { return -2 }
        if !scoped && !allowed { return -2 }
        if allowedBelow && !allowed { return -2 }
        allowedBelow = allowed
      }
    }
    if let role = Role(name: name), Role(name: role.name) != role { return -2 }
    return location.workspace == nil ? 0 : 1
  }
}
