import Testing

@testable import RealtimeCore

/// Authorization over the protocol: every channel and document request of a scoped namespace is
/// checked, a refusal is the same whatever exists, nothing leaks, and a demotion ends at once
/// what it no longer allows.
@Suite struct AccessProtocolTests {
  /// Identity from the token (`user`), as the example server's test flag does.
  static let hook: AuthHook = { request in .allow(request.token.flatMap { Identity(user: $0, device: "d-" + $0) }) }

  /// A running core with `chat` (keeping presence) and `docs` scoped, acme's members mia
  /// (member), gus (guest) and ada (admin), globex's owner olga, and three messages in
  /// `chat:acme/general` and a text document `docs:acme/plan`.
  private func workspaceCore() throws -> Core {
    let core = try Core(config: CoreConfig(databasePath: nil, durability: .off))
    try core.start()
    var chat = NamespaceOptions()
    chat.presence = true
    try core.configure(namespace: "chat", chat)
    try core.access.scope(namespace: "chat", AccessRules())
    try core.access.scope(namespace: "docs", AccessRules())
    try core.access.setRole(.member, user: "mia", in: "acme")
    try core.access.setRole(.guest, user: "gus", in: "acme")
    try core.access.setRole(.admin, user: "ada", in: "acme")
    try core.access.setRole(.owner, user: "olga", in: "globex")
    for n in 1...3 { _ = try core.publish(channel: "chat:acme/general", data: Array("\(n)".utf8), dataIsJSON: true) }
    let plan = try core.openDocument("docs:acme/plan", kind: .text)
    core.closeDocument(plan)
    try core.sync()
    return core
  }

  private func harness(_ core: Core, _ user: String?) throws -> Harness {
    let h = try core.perform { engine in
      Harness(authenticate: Self.hook, router: engine.router, access: engine.access, documents: engine.documents)
    }
    try core.perform { _ in h.send(user.map { #"{"type":"connect","token":"\#($0)"}"# } ?? #"{"type":"connect"}"#) }
    _ = try core.perform { _ throws(RealtimeError) in try Self.replies(h) }
    return h
  }

  /// Sends `text` on the loop thread and returns the server's answers.
  private func exchange(_ core: Core, _ h: Harness, _ text: String) throws -> [Envelope] {
    try core.perform { _ throws(RealtimeError) in
      h.send(text)
      return try Self.replies(h)
    }
  }

  private static func replies(_ h: Harness) throws(RealtimeError) -> [Envelope] {
    do { return try h.replies().compactMap(\.envelope) } catch { throw RealtimeError(.internal, "\(error)") }
  }

  /// Every request a client may make of a channel or document, for `name`.
  private static func requests(channel: String, doc: String) -> [String] {
    let hash = String(repeating: "ab", count: 32)
    return [
      #"{"type":"subscribe","id":1,"channel":"\#(channel)"}"#,
      #"{"type":"subscribe","id":1,"channel":"\#(channel)","epoch":"e","offset":0}"#,
      #"{"type":"publish","id":1,"channel":"\#(channel)","data":{"x":1}}"#,
      #"{"type":"history","id":1,"channel":"\#(channel)"}"#,
      #"{"type":"presence","id":1,"channel":"\#(channel)","status":"away"}"#,
      #"{"type":"presence_list","id":1,"channel":"\#(channel)"}"#,
      #"{"type":"typing","id":1,"channel":"\#(channel)"}"#,
      #"{"type":"receipt","id":1,"channel":"\#(channel)","offset":1,"status":"read"}"#,
      #"{"type":"doc_sync","id":1,"doc":"\#(doc)","kind":"text"}"#,
      #"{"type":"doc_update","id":1,"doc":"\#(doc)","data_b64":"AAAA"}"#,
      #"{"type":"chunk","id":1,"doc":"\#(doc)","key":"\#(hash)","data_b64":"AAAA"}"#,
      #"{"type":"chunk_get","id":1,"doc":"\#(doc)","key":"\#(hash)"}"#,
    ]
  }

  @Test func everyRequestOutsideOnesWorkspacesIsRefusedAlike() throws {
    let core = try workspaceCore()
    defer { try? core.close() }
    var refusal = Envelope(.error, id: 1)
    refusal.code = ProtocolErrorCode.forbidden.rawValue
    refusal.message = "not allowed"
    for user in ["olga", nil, "stranger"] {
      let h = try harness(core, user)
      // An existing channel and document, missing ones, and names without a workspace segment.
      let targets = [
        ("chat:acme/general", "docs:acme/plan"), ("chat:acme/nothing", "docs:acme/nothing"),
        ("chat:nowhere/x", "docs:nowhere/x"), ("chat:acme", "docs:acme"),
      ]
      for (channel, doc) in targets {
        for request in Self.requests(channel: channel, doc: doc) {
          #expect(try exchange(core, h, request) == [refusal], "\(user ?? "anonymous"): \(request)")
        }
      }
    }
  }

  @Test func aRefusedClientGetsNoneOfTheMessagesOrPresence() throws {
    let core = try workspaceCore()
    defer { try? core.close() }
    let olga = try harness(core, "olga")
    let mia = try harness(core, "mia")
    _ = try exchange(core, olga, #"{"type":"subscribe","id":1,"channel":"chat:acme/general"}"#)
    let subscribed = try exchange(core, mia, #"{"type":"subscribe","id":1,"channel":"chat:acme/general"}"#)
    #expect(subscribed.first?.type == .subscribed)
    let acked = try exchange(core, mia, #"{"type":"publish","id":2,"channel":"chat:acme/general","data":"hi"}"#)
    #expect(acked.contains { $0.type == .ack && $0.offset == 4 })
    _ = try exchange(core, mia, #"{"type":"typing","channel":"chat:acme/general"}"#)
    try core.sync()
    let leaked = try core.perform { _ throws(RealtimeError) in try Self.replies(olga) }
    #expect(leaked.isEmpty, "olga is in globex: nothing of acme reaches her")
  }

  @Test func aGuestReadsButDoesNotWrite() throws {
    let core = try workspaceCore()
    defer { try? core.close() }
    let gus = try harness(core, "gus")
    let subscribed = try exchange(core, gus, #"{"type":"subscribe","id":1,"channel":"chat:acme/general"}"#)
    #expect(subscribed.first?.type == .subscribed && subscribed.first?.offset == 3)
    let history = try exchange(core, gus, #"{"type":"history","id":2,"channel":"chat:acme/general"}"#)
    #expect(history.filter { $0.type == .message }.count == 3)
    let list = try exchange(core, gus, #"{"type":"presence_list","id":3,"channel":"chat:acme/general"}"#)
    #expect(list.first?.type == .presenceList)
    let published = try exchange(core, gus, #"{"type":"publish","id":4,"channel":"chat:acme/general","data":"x"}"#)
    #expect(published.first?.type == .error && published.first?.message == "not allowed")
    let synced = try exchange(core, gus, #"{"type":"doc_sync","id":5,"doc":"docs:acme/plan","kind":"text"}"#)
    #expect(synced.map(\.type) == [.docUpdate, .docSync])
    let update = try exchange(core, gus, #"{"type":"doc_update","id":6,"doc":"docs:acme/plan","data_b64":"AAAA"}"#)
    #expect(update.first?.type == .error && update.first?.message == "not allowed")
  }

  @Test func anAnnouncementsChannelTakesOnlyAdminsPosts() throws {
    let core = try workspaceCore()
    defer { try? core.close() }
    try core.access.setRule(for: "chat:acme/news", .publish, minimum: .admin)
    let mia = try harness(core, "mia")
    let ada = try harness(core, "ada")
    let refused = try exchange(core, mia, #"{"type":"publish","id":1,"channel":"chat:acme/news","data":"x"}"#)
    #expect(refused.first?.message == "not allowed")
    let sent = try exchange(core, ada, #"{"type":"publish","id":1,"channel":"chat:acme/news","data":"x"}"#)
    try core.sync()
    let acked = try sent + core.perform { _ throws(RealtimeError) in try Self.replies(ada) }
    #expect(acked.contains { $0.type == .ack && $0.channel == "chat:acme/news" }, "\(acked)")
  }

  @Test func aRemovedMemberLosesSubscriptionsAndDocumentsAtOnce() throws {
    let core = try workspaceCore()
    defer { try? core.close() }
    let mia = try harness(core, "mia")
    _ = try exchange(core, mia, #"{"type":"subscribe","id":1,"channel":"chat:acme/general"}"#)
    _ = try exchange(core, mia, #"{"type":"subscribe","id":2,"channel":"chat:open"}"#)
    _ = try exchange(core, mia, #"{"type":"doc_sync","id":3,"doc":"docs:acme/plan","kind":"text"}"#)
    try core.access.setRole(.guest, user: "mia", in: "acme")
    let demoted = try core.perform { _ throws(RealtimeError) in try Self.replies(mia) }
    #expect(demoted.isEmpty, "a guest still reads: nothing ends")
    try core.access.setRole(.none, user: "mia", in: "acme")
    let removed = try core.perform { _ throws(RealtimeError) in try Self.replies(mia) }
    #expect(removed.contains { $0.type == .unsubscribed && $0.channel == "chat:acme/general" && $0.id == nil })
    #expect(!removed.contains { $0.channel == "chat:open" }, "an open channel is kept")
    #expect(removed.contains { $0.type == .error && $0.doc == "docs:acme/plan" && $0.message == "not allowed" })
    _ = try core.publish(channel: "chat:acme/general", data: Array("4".utf8), dataIsJSON: true)
    let plan = try core.openDocument("docs:acme/plan", kind: .text)
    try plan.withText { text throws(RealtimeError) in try text.insert("secret", at: 0) }
    _ = plan.commit()
    core.closeDocument(plan)
    try core.sync()
    let after = try core.perform { _ throws(RealtimeError) in try Self.replies(mia) }
    #expect(after.isEmpty, "nothing of acme after the removal")
    let again = try exchange(core, mia, #"{"type":"subscribe","id":4,"channel":"chat:acme/general"}"#)
    #expect(again.first?.message == "not allowed")
  }

  @Test func aRecoveryReplaysNothingWithoutTheRightToHistory() throws {
    let core = try workspaceCore()
    defer { try? core.close() }
    try core.access.setRule(for: "chat:acme/general", .history, minimum: .member)
    let mia = try harness(core, "mia")
    let gus = try harness(core, "gus")
    let first = try exchange(core, mia, #"{"type":"subscribe","id":1,"channel":"chat:acme/general"}"#)
    let epoch = try #require(first.first?.epoch)
    let request = #"{"type":"subscribe","id":2,"channel":"chat:acme/general","epoch":"\#(epoch)","offset":0}"#
    let replayed =
      try exchange(core, mia, #"{"type":"unsubscribe","id":3,"channel":"chat:acme/general"}"#)
      + exchange(core, mia, request)
    #expect(replayed.filter { $0.type == .message }.count == 3, "a member recovers the three messages")
    let refused = try exchange(core, gus, request)
    #expect(refused.first?.type == .subscribed && refused.first?.recovered == false)
    #expect(!refused.contains { $0.type == .message }, "a guest without history gets no replay")
    let history = try exchange(core, gus, #"{"type":"history","id":4,"channel":"chat:acme/general"}"#)
    #expect(history.filter { $0.type != .presence }.map(\.message) == ["not allowed"])
  }

  @Test func aSubscriberWithoutPresenceRightsNeitherSeesNorAppearsInIt() throws {
    let core = try workspaceCore()
    defer { try? core.close() }
    try core.access.setRule(for: "chat:acme/general", .presence, minimum: .member)
    let gus = try harness(core, "gus")
    let mia = try harness(core, "mia")
    _ = try exchange(core, gus, #"{"type":"subscribe","id":1,"channel":"chat:acme/general"}"#)
    _ = try exchange(core, mia, #"{"type":"subscribe","id":1,"channel":"chat:acme/general"}"#)
    _ = try exchange(core, mia, #"{"type":"typing","channel":"chat:acme/general"}"#)
    _ = try exchange(core, mia, #"{"type":"presence","id":2,"channel":"chat:acme/general","status":"away"}"#)
    try core.sync()
    let seen = try core.perform { _ throws(RealtimeError) in try Self.replies(gus) }
    #expect(!seen.contains { $0.type == .presence || $0.type == .typing }, "\(seen)")
    let list = try exchange(core, mia, #"{"type":"presence_list","id":3,"channel":"chat:acme/general"}"#)
    let page = try #require(list.first { $0.type == .presenceList }?.data)
    let text = String(decoding: page, as: UTF8.self)
    #expect(text.contains("\"mia\"") && !text.contains("\"gus\""), "gus is not shown: \(text)")
  }

  @Test func aClosedChannelRuleEndsItsSubscriptions() throws {
    let core = try workspaceCore()
    defer { try? core.close() }
    let gus = try harness(core, "gus")
    _ = try exchange(core, gus, #"{"type":"subscribe","id":1,"channel":"chat:acme/board"}"#)
    try core.access.setRule(for: "chat:acme/board", .subscribe, minimum: .member)
    let ended = try core.perform { _ throws(RealtimeError) in try Self.replies(gus) }
    #expect(ended.filter { $0.type != .presence }.map(\.type) == [.unsubscribed])
    #expect(ended.last?.type == .unsubscribed && ended.last?.channel == "chat:acme/board")
  }
}
