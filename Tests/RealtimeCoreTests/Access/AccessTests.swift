import Testing

@testable import RealtimeCore

/// Roles, rules and their checks, without the protocol.
@Suite struct AccessRuleTests {
  private func runningCore(_ path: String? = nil) throws -> Core {
    let core = try Core(config: CoreConfig(databasePath: path, durability: path == nil ? .off : .full))
    try core.start()
    return core
  }

  @Test func rolesAreOrderedAndNamed() {
    #expect(Role.none < .guest && Role.guest < .member && Role.member < .admin && Role.admin < .owner)
    for role in Role.allCases { #expect(Role(name: role.name) == role) }
    #expect(Role(name: "CEO") == .owner)
    #expect(Role(name: "Manager") == .admin)
    #expect(Role(name: "staff") == .member)
    #expect(Role(name: "GUEST") == .guest)
    #expect(Role(name: "intern") == nil)
    #expect(Role(name: "") == nil)
    #expect(Role(name: String(repeating: "owner", count: 10)) == nil)
    for action in AccessAction.allCases { #expect(AccessAction(name: action.name) == action) }
  }

  @Test func aNamesWorkspaceIsTheFirstSegmentOfItsRest() {
    #expect(AccessNames.locate("chat:acme/general") == .init(namespace: "chat", workspace: "acme"))
    #expect(AccessNames.locate("chat:acme/a/b") == .init(namespace: "chat", workspace: "acme"))
    #expect(AccessNames.locate("chat:acme") == .init(namespace: "chat", workspace: nil))
    #expect(AccessNames.locate("chat:/general") == .init(namespace: "chat", workspace: nil))
    #expect(AccessNames.locate("acme/general") == .init(namespace: "", workspace: "acme"))
    #expect(AccessNames.locate("chat:a:b/c") == .init(namespace: "chat", workspace: nil), "':' is not a workspace byte")
    #expect(AccessNames.locate("docs:ac me/plan") == .init(namespace: "docs", workspace: nil))
    #expect(AccessNames.locate("") == .init(namespace: "", workspace: nil))
    // A combining mark after ':' or '/' belongs to the segment, whatever characters it forms.
    #expect(AccessNames.locate("docs:\u{65C}acme/x") == .init(namespace: "docs", workspace: nil))
    #expect(AccessNames.locate(":\u{65C}x=docs/y") == .init(namespace: "", workspace: nil))
    #expect(AccessNames.locate("docs:acme/\u{301}x") == .init(namespace: "docs", workspace: "acme"))
  }

  @Test func openNamespacesAllowEveryoneAndScopedOnesFollowTheDefaults() throws {
    let core = try runningCore()
    defer { try? core.close() }
    let access = core.access
    for action in AccessAction.allCases {
      #expect(access.allows(nil, action, on: "chat:acme/general"), "nothing is scoped yet: open")
    }
    try access.scope(namespace: "chat", AccessRules())
    try access.setRole(.guest, user: "gus", in: "acme")
    try access.setRole(.member, user: "mia", in: "acme")
    try access.setRole(.owner, user: "olga", in: "globex")
    let channel = "chat:acme/general"
    let reads: [AccessAction] = [.subscribe, .presence, .history, .docRead]
    let writes: [AccessAction] = [.publish, .docWrite]
    for action in reads {
      #expect(access.allows("gus", action, on: channel))
      #expect(access.allows("mia", action, on: channel))
    }
    for action in writes {
      #expect(!access.allows("gus", action, on: channel), "a guest reads but does not write")
      #expect(access.allows("mia", action, on: channel))
    }
    for action in AccessAction.allCases {
      #expect(!access.allows(nil, action, on: channel), "anonymous")
      #expect(!access.allows("olga", action, on: channel), "an owner of another workspace")
      #expect(!access.allows("mia", action, on: "chat:globex/general"), "a member of another workspace")
      #expect(!access.allows("mia", action, on: "chat:acme"), "no workspace segment: refused")
      #expect(access.allows(nil, action, on: "other:acme/general"), "another namespace stays open")
    }
    #expect(access.isScoped(channel) && !access.isScoped("other:x/y"))
    // Opening the namespace again lifts every check.
    try access.scope(namespace: "chat", nil)
    #expect(access.allows(nil, .publish, on: channel))
  }

  @Test func aNamesOwnRuleOverridesItsNamespace() throws {
    let core = try runningCore()
    defer { try? core.close() }
    let access = core.access
    try access.scope(namespace: "chat", AccessRules())
    try access.setRole(.member, user: "mia", in: "acme")
    try access.setRole(.admin, user: "ada", in: "acme")
    try access.setRole(.guest, user: "gus", in: "acme")
    let news = "chat:acme/announcements"
    try access.setRule(for: news, .publish, minimum: .admin)
    #expect(!access.allows("mia", .publish, on: news))
    #expect(access.allows("ada", .publish, on: news))
    #expect(access.allows("mia", .publish, on: "chat:acme/general"), "other channels keep the namespace's rule")
    let board = "chat:acme/board"
    try access.setRule(for: board, .subscribe, minimum: .member)
    #expect(!access.allows("gus", .subscribe, on: board))
    #expect(access.allows("mia", .subscribe, on: board))
    let lobby = "chat:acme/lobby"
    try access.setRule(for: lobby, .subscribe, minimum: Role.none)
    #expect(access.allows(nil, .subscribe, on: lobby), "min role none: anonymous clients too")
    #expect(access.rule(for: news, .publish) == .admin)
    try access.setRule(for: news, .publish, minimum: nil)
    #expect(access.rule(for: news, .publish) == nil)
    #expect(access.allows("mia", .publish, on: news), "back to the namespace's rule")
    // A document's rule, by its id.
    try access.scope(namespace: "docs", AccessRules())
    try access.setRule(for: "docs:acme/salaries", .docRead, minimum: .owner)
    #expect(!access.allows("ada", .docRead, on: "docs:acme/salaries"))
    #expect(access.allows("ada", .docRead, on: "docs:acme/plan"))
  }

  @Test func namesThatLookAlikeButDifferInBytesAreDifferentNames() throws {
    let core = try runningCore()
    defer { try? core.close() }
    let access = core.access
    try access.scope(namespace: "docs", AccessRules())
    let composed = "Ren\u{E9}"  // é as one scalar
    let decomposed = "Rene\u{301}"  // e and a combining acute: equal as Swift Strings
    #expect(composed == decomposed, "the premise: String equality is canonical equivalence")
    try access.setRole(.member, user: composed, in: "acme")
    #expect(try access.role(of: decomposed, in: "acme") == Role.none, "another user, other bytes")
    #expect(access.allows(composed, .docWrite, on: "docs:acme/plan"))
    #expect(!access.allows(decomposed, .docRead, on: "docs:acme/plan"))
    try access.setRule(for: "docs:acme/caf\u{E9}", .docRead, minimum: Role.none)
    #expect(access.allows(nil, .docRead, on: "docs:acme/caf\u{E9}"))
    #expect(!access.allows(nil, .docRead, on: "docs:acme/cafe\u{301}"), "a public rule opens only its own document")
    #expect(access.isScoped("docs:acme/x") && !access.isScoped("do\u{63}s\u{301}:acme/x"))
  }

  @Test func removingAMemberOrDemotingThemTakesEffectAtOnce() throws {
    let core = try runningCore()
    defer { try? core.close() }
    let access = core.access
    try access.scope(namespace: "chat", AccessRules())
    try access.setRole(.member, user: "mia", in: "acme")
    #expect(try access.role(of: "mia", in: "acme") == .member)
    #expect(access.memberCount == 1)
    try access.setRole(.guest, user: "mia", in: "acme")
    #expect(!access.allows("mia", .publish, on: "chat:acme/general"))
    #expect(access.allows("mia", .subscribe, on: "chat:acme/general"))
    try access.setRole(.none, user: "mia", in: "acme")
    #expect(try access.role(of: "mia", in: "acme") == Role.none)
    #expect(!access.allows("mia", .subscribe, on: "chat:acme/general"))
    #expect(access.memberCount == 0)
    try access.setRole(.none, user: "nobody", in: "acme")
    #expect(access.memberCount == 0, "removing a non-member changes nothing")
  }

  @Test func membershipsAndRulesSurviveAReopenButScopesAreDeclaredAgain() throws {
    let dir = try TempDir()
    let path = dir.file("access.db")
    do {
      let core = try runningCore(path)
      try core.access.setRole(.admin, user: "ada", in: "acme")
      try core.access.setRole(.member, user: "mia", in: "acme")
      try core.access.setRole(.guest, user: "mia", in: "globex")
      try core.access.setRole(.owner, user: "gone", in: "acme")
      try core.access.setRole(.none, user: "gone", in: "acme")
      try core.access.setRule(for: "chat:acme/news", .publish, minimum: .admin)
      try core.access.setRule(for: "chat:acme/old", .publish, minimum: .admin)
      try core.access.setRule(for: "chat:acme/old", .publish, minimum: nil)
      try core.close()
    }
    let core = try runningCore(path)
    defer { try? core.close() }
    #expect(try core.access.role(of: "ada", in: "acme") == .admin)
    #expect(try core.access.role(of: "mia", in: "acme") == .member)
    #expect(try core.access.role(of: "mia", in: "globex") == .guest)
    #expect(try core.access.role(of: "gone", in: "acme") == Role.none)
    #expect(core.access.memberCount == 3)
    #expect(core.access.rule(for: "chat:acme/news", .publish) == .admin)
    #expect(core.access.rule(for: "chat:acme/old", .publish) == nil)
    #expect(core.access.rules(of: "chat") == nil, "scopes are configuration, not stored")
    #expect(core.access.allows(nil, .publish, on: "chat:acme/news"))
    try core.access.scope(namespace: "chat", AccessRules())
    #expect(!core.access.allows("mia", .publish, on: "chat:acme/news"))
    #expect(core.access.allows("ada", .publish, on: "chat:acme/news"))
  }

  @Test func badNamesAndAStoppedCoreAreRefused() throws {
    let core = try Core(config: CoreConfig(databasePath: nil, durability: .off))
    defer { try? core.close() }
    #expect(code { try core.access.setRole(.member, user: "mia", in: "acme") } == .state, "not running")
    #expect(try core.access.role(of: "mia", in: "acme") == Role.none, "reads work while stopped")
    try core.start()
    let longWorkspace = String(repeating: "w", count: 129)
    let longUser = String(repeating: "u", count: 129)
    #expect(code { try core.access.setRole(.member, user: "mia", in: "") } == .invalidArgument)
    #expect(code { try core.access.setRole(.member, user: "mia", in: longWorkspace) } == .invalidArgument)
    #expect(code { try core.access.setRole(.member, user: "mia", in: "ac/me") } == .invalidArgument)
    #expect(code { try core.access.setRole(.member, user: "mia", in: "ac:me") } == .invalidArgument)
    #expect(code { try core.access.setRole(.member, user: "", in: "acme") } == .invalidArgument)
    #expect(code { try core.access.setRole(.member, user: longUser, in: "acme") } == .invalidArgument)
    #expect(code { try core.access.setRole(.member, user: "m\u{1}a", in: "acme") } == .invalidArgument)
    #expect(code { try core.access.setRole(.member, user: "mia", in: String(repeating: "w", count: 128)) } == nil)
    #expect(code { try core.access.setRule(for: "", .publish, minimum: .admin) } == .invalidArgument)
    #expect(
      code { try core.access.setRule(for: String(repeating: "n", count: 257), .publish, minimum: .admin) }
        == .invalidArgument)
    #expect(code { try core.access.scope(namespace: "Chat", AccessRules()) } == .invalidArgument)
    #expect(
      code { try core.access.scope(namespace: String(repeating: "n", count: 65), AccessRules()) } == .invalidArgument)
    #expect(code { _ = try core.access.role(of: "mia", in: "") } == .invalidArgument)
  }

  @Test func aDamagedRoleInTheDatabaseIsRefusedAtOpen() throws {
    let dir = try TempDir()
    let path = dir.file("bad.db")
    do {
      let core = try runningCore(path)
      try core.access.setRole(.member, user: "mia", in: "acme")
      try core.close()
    }
    // The CHECK constraint keeps SQLite from storing an unknown role; a file edited without it
    // (or by a newer library) is still not trusted: the table is dropped and rebuilt bare.
    do {
      let db = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READWRITE_CREATE)
      try db.exec(
        """
        DROP TABLE rt_members;
        CREATE TABLE rt_members (workspace TEXT, user TEXT, role INTEGER, PRIMARY KEY (workspace, user)) WITHOUT ROWID;
        INSERT INTO rt_members VALUES ('acme', 'mia', 9);
        """)
    }
    #expect(throws: RealtimeError.self) { try Core(config: CoreConfig(databasePath: path, durability: .full)) }
  }
}
