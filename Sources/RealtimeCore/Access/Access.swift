import Synchronization

/// Authorization: roles per workspace and the least role each action on a channel or document
/// needs (`docs/security.md`, "Authorization"). The Swift face of `rt_access_*`; `Core.access`.
///
/// Memberships and per-name rules are stored in SQLite and held in memory, so a check (run by
/// the protocol for every subscribe, publish, presence, history and document request) takes a
/// shared lock and a few dictionary lookups, and never reads the database. Which namespaces are
/// scoped is configuration, like namespace options: the host declares it after every start.
/// Channels and documents of namespaces that are not scoped are open to every client, as before
/// authorization existed.
///
/// Checks run on any thread. Changes need a running core: they are applied on the loop thread
/// (where they also end the subscriptions and document syncs that are no longer allowed),
/// stored with the turn's other writes, and return once committed.
public final class Access: @unchecked Sendable {
  /// Whether any namespace is scoped: while none is, checks return at once without the lock
  /// (every namespace open, as a core that never uses authorization).
  private let anyScoped = Atomic<Bool>(false)
  /// Most memberships held in all (each costs some 100 bytes of memory).
  public static let maxMembers = 1_000_000
  /// Most per-name rules held in all.
  public static let maxRules = 100_000
  /// Most scoped namespaces.
  public static let maxScopedNamespaces = 1024

  /// What the checks read; guarded by `lock`.
  struct State {
    /// workspace -> user -> role (never `.none`: absence is none). Workspaces are ASCII, so
    /// `String` keys compare them exactly; users may be any UTF-8.
    var members: [String: [ExactName: Role]] = [:]
    var memberCount = 0
    /// namespace -> the rules of its channels and documents.
    var scoped: [ExactName: AccessRules] = [:]
    /// channel or document name -> action -> least role, overriding the namespace's rules.
    var rules: [ExactName: [AccessAction: Role]] = [:]
    var ruleCount = 0
  }

  private let lock = ReadWriteLock()
  private var state = State()
  /// The core whose loop applies changes; set once by the core's init.
  weak var core: Core?

  /// Loads the stored memberships and rules of `store`.
  init(store: Store) throws(RealtimeError) {
    state = try store.loadAccess()
  }

  /// An access control over `state` alone, with no core to change it (the fuzz target's).
  init(state: State) {
    self.state = state
    anyScoped.store(!state.scoped.isEmpty, ordering: .releasing)
  }

  // MARK: - Checks (any thread)

  /// Whether `user` (nil: anonymous) may do `action` on channel or document `name`. Open
  /// namespaces allow everything; in a scoped one the name's rule for the action, else the
  /// namespace's, is the least role, and the user's role in the name's workspace must reach it.
  /// A name of a scoped namespace without a workspace segment is refused.
  public func allows(_ user: String?, _ action: AccessAction, on name: String) -> Bool {
    guard anyScoped.load(ordering: .acquiring) else { return true }
    let location = AccessNames.locate(name)
    return lock.shared {
      guard let rules = state.scoped[ExactName(String(location.namespace))] else { return true }
      guard let workspace = location.workspace else { return false }
      let least = state.rules[ExactName(name)]?[action] ?? rules[action]
      if least == .none { return true }
      guard let user else { return false }
      return (state.members[String(workspace)]?[ExactName(user)] ?? .none) >= least
    }
  }

  /// Whether `name` is subject to rules (its namespace is scoped): false means open.
  public func isScoped(_ name: String) -> Bool {
    let namespace = String(AccessNames.locate(name).namespace)
    return lock.shared { state.scoped[ExactName(namespace)] != nil }
  }

  /// `user`'s role in `workspace` (`.none` when not a member).
  public func role(of user: String, in workspace: String) throws(RealtimeError) -> Role {
    try AccessNames.checkWorkspace(workspace)
    try AccessNames.checkUser(user)
    return lock.shared { state.members[workspace]?[ExactName(user)] ?? .none }
  }

  /// The rules of `namespace`, nil when it is not scoped.
  public func rules(of namespace: String) -> AccessRules? {
    lock.shared { state.scoped[ExactName(namespace)] }
  }

  /// The least role `action` on `name` needs by its own rule, nil when it has none.
  public func rule(for name: String, _ action: AccessAction) -> Role? {
    lock.shared { state.rules[ExactName(name)]?[action] }
  }

  /// How many memberships are held.
  public var memberCount: Int { lock.shared { state.memberCount } }

  // MARK: - Changes (any thread but a started core's own loop thread blocks until stored)

  /// Makes `user` a member of `workspace` with `role`; `.none` removes them. Their sessions lose
  /// at once what the new role no longer allows.
  public func setRole(_ role: Role, user: String, in workspace: String) throws(RealtimeError) {
    try AccessNames.checkWorkspace(workspace)
    try AccessNames.checkUser(user)
    try change(.member(workspace: workspace, user: user, role: Int64(role.rawValue))) { state throws(RealtimeError) in
      let key = ExactName(user)
      let old = state.members[workspace]?[key]
      if role == .none {
        guard old != nil else { return }
        state.members[workspace]?[key] = nil
        if state.members[workspace]?.isEmpty == true { state.members[workspace] = nil }
        state.memberCount -= 1
        return
      }
      guard old != nil || state.memberCount < Access.maxMembers else {
        throw RealtimeError(.noMemory, "at most \(Access.maxMembers) memberships")
      }
      state.members[workspace, default: [:]][key] = role
      if old == nil { state.memberCount += 1 }
    } review: { engine in
      engine.router.userSubscriptions.sessions(of: user).forEach { ($0 as? ProtocolSession)?.reviewAccess() }
    }
  }

  /// Scopes `namespace` (0 to 64 bytes of a-z, 0-9, `_`, `-`) with `rules`, or opens it again
  /// (nil). Not stored: declare it after every start, like namespace options. Sessions lose at
  /// once what the new rules no longer allow.
  public func scope(namespace: String, _ rules: AccessRules?) throws(RealtimeError) {
    guard ChannelName.isValidNamespace(namespace) else {
      throw RealtimeError(.invalidArgument, "a namespace name is 0 to 64 bytes of a-z, 0-9, _ and -")
    }
    try change(nil) { state throws(RealtimeError) in
      defer { self.anyScoped.store(!state.scoped.isEmpty, ordering: .releasing) }
      guard let rules else {
        state.scoped[ExactName(namespace)] = nil
        return
      }
      guard state.scoped[ExactName(namespace)] != nil || state.scoped.count < Access.maxScopedNamespaces else {
        throw RealtimeError(.noMemory, "at most \(Access.maxScopedNamespaces) scoped namespaces")
      }
      state.scoped[ExactName(namespace)] = rules
    } review: { engine in
      Access.reviewEverySession(engine)
    }
  }

  /// Sets the least role `action` on channel or document `name` (1 to 256 bytes) needs,
  /// overriding its namespace's rule (e.g. only admins publish to `chat:acme/announcements`;
  /// members only for `chat:acme/board`); nil removes the override. Stored; in force only while
  /// the name's namespace is scoped.
  public func setRule(for name: String, _ action: AccessAction, minimum: Role?) throws(RealtimeError) {
    try AccessNames.checkName(name)
    let write = StoreWrite.accessRule(
      name: name, action: Int64(action.rawValue), minRole: minimum.map { Int64($0.rawValue) })
    try change(write) { state throws(RealtimeError) in
      let key = ExactName(name)
      let old = state.rules[key]?[action]
      guard let minimum else {
        guard old != nil else { return }
        state.rules[key]?[action] = nil
        if state.rules[key]?.isEmpty == true { state.rules[key] = nil }
        state.ruleCount -= 1
        return
      }
      guard old != nil || state.ruleCount < Access.maxRules else {
        throw RealtimeError(.noMemory, "at most \(Access.maxRules) access rules")
      }
      state.rules[key, default: [:]][action] = minimum
      if old == nil { state.ruleCount += 1 }
    } review: { engine in
      Access.reviewEverySession(engine)
    }
  }

  /// Applies `update` to the state on the loop thread, queues `write` (if any) with the turn's
  /// writes, runs `review` there, and waits for the commit unless called on the loop thread.
  private func change(
    _ write: StoreWrite?, _ update: @escaping @Sendable (inout State) throws(RealtimeError) -> Void,
    review: @escaping @Sendable (Engine) -> Void
  ) throws(RealtimeError) {
    guard let core else { throw RealtimeError(.closed, "the core is closed") }
    let apply: @Sendable (Engine) throws(RealtimeError) -> Void = { [self] engine throws(RealtimeError) in
      try lock.exclusive { () throws(RealtimeError) in try update(&state) }
      if let write { engine.log.enqueue(write) }
      review(engine)
    }
    if core.isOnLoopThread { return try apply(core.engine) }
    let failure: RealtimeError? = try core.call { engine, reply in
      do throws(RealtimeError) {
        try apply(engine)
      } catch {
        return reply(error)
      }
      engine.log.barrier { reply($0) }
    }
    if let failure {
      guard write != nil, failure.code != .invalidArgument, failure.code != .noMemory else { throw failure }
      throw RealtimeError(failure.code, "the change is in force but was not stored: \(failure.message)")
    }
  }

  /// Re-checks every protocol session's subscriptions and documents (after a rule changed).
  private static func reviewEverySession(_ engine: Engine) {
    var seen = Set<ObjectIdentifier>()
    let sessions: [AnyObject] = engine.router.allSubscribers() + (engine.documents?.allClients() ?? [])
    for case let session as ProtocolSession in sessions where seen.insert(ObjectIdentifier(session)).inserted {
      session.reviewAccess()
    }
  }
}

extension Store {
  /// Reads every stored membership and rule. Any thread (the core's init).
  func loadAccess() throws(RealtimeError) -> Access.State {
    try read { db throws(RealtimeError) in
      var state = Access.State()
      let members = try db.prepare("SELECT workspace, user, role FROM rt_members")
      while try members.step() {
        guard let role = Role(rawValue: Int(members.int64(2))), role != .none else {
          throw RealtimeError(.corrupt, "rt_members holds an unknown role \(members.int64(2))")
        }
        state.members[members.text(0), default: [:]][ExactName(members.text(1))] = role
        state.memberCount += 1
      }
      let rules = try db.prepare("SELECT name, action, min_role FROM rt_access_rules")
      while try rules.step() {
        guard let action = AccessAction(rawValue: Int(rules.int64(1))), let role = Role(rawValue: Int(rules.int64(2)))
        else {
          throw RealtimeError(.corrupt, "rt_access_rules holds an unknown action or role")
        }
        state.rules[ExactName(rules.text(0)), default: [:]][action] = role
        state.ruleCount += 1
      }
      return state
    }
  }
}
