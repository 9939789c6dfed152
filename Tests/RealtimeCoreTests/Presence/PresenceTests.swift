import Synchronization
import Testing

@testable import RealtimeCore

/// What an observer believes is present: the diffs it got, applied in order.
final class PresenceView: @unchecked Sendable {
  var entries: [String: String] = [:]  // "user/client" -> status
  var diffs = 0

  /// Applies one `presence` event's data (`{"join":[...],"leave":[...],"update":[...]}`).
  func apply(_ data: [UInt8]) throws {
    diffs += 1
    let text = String(decoding: data, as: UTF8.self)
    // The fields this test needs, read with a tiny scanner over the server's own JSON.
    for (section, list) in try Self.sections(text) {
      for object in list {
        let key = "\(object["user"] ?? "")/\(object["client"] ?? "")"
        switch section {
        case "join":
          #expect(entries[key] == nil, "join of \(key), already present")
          entries[key] = object["status"]
        case "update":
          #expect(entries[key] != nil, "update of \(key), not present")
          entries[key] = object["status"]
        default:
          #expect(entries[key] != nil, "leave of \(key), not present")
          entries[key] = nil
        }
      }
    }
  }

  /// The three lists of flat string fields (meta objects skipped).
  static func sections(_ text: String) throws -> [(String, [[String: String]])] {
    var out: [(String, [[String: String]])] = []
    for section in ["join", "leave", "update"] {
      guard let start = text.range(of: "\"\(section)\":[") else {
        throw RealtimeError(.corrupt, "no \(section) in \(text)")
      }
      var depth = 1
      var i = start.upperBound
      var body = ""
      while i < text.endIndex, depth > 0 {
        let c = text[i]
        if c == "[" { depth += 1 }
        if c == "]" { depth -= 1 }
        if depth > 0 { body.append(c) }
        i = text.index(after: i)
      }
      var objects: [[String: String]] = []
      for chunk in body.components(separatedBy: "{\"user\":").dropFirst() {
        var object: [String: String] = [:]
        let fields = ("\"user\":" + chunk).components(separatedBy: ",")
        for field in fields {
          let parts = field.components(separatedBy: "\":\"")
          guard parts.count == 2 else { continue }
          let name = parts[0].replacingOccurrences(of: "\"", with: "").replacingOccurrences(of: "{", with: "")
          object[name] = parts[1].components(separatedBy: "\"").first ?? ""
        }
        objects.append(object)
      }
      out.append((section, objects))
    }
    return out
  }
}

@Suite struct PresenceTests {
  /// The test moves it while the loop's presence tick reads it: atomic.
  final class Clock: Sendable {
    private let value = Atomic<UInt64>(1_000_000)
    var now: UInt64 { value.load(ordering: .relaxed) }
    func advance(_ by: UInt64) { value.add(by, ordering: .relaxed) }
  }

  private func core(_ clock: Clock) throws -> Core {
    let core = try Core(config: CoreConfig(databasePath: nil, durability: .off))
    try core.start()
    var options = NamespaceOptions(persistent: false)
    options.presence = true
    try core.configure(namespace: "room", options)
    try core.configure(namespace: "quiet", NamespaceOptions(persistent: false))
    try core.perform { engine in engine.router.clock = { clock.now } }
    return core
  }

  /// Random joins, status changes, clears, crashes (a client that stops renewing its lease) and
  /// renewals under a fake clock: once the leases of the crashed pass and the diffs are flushed,
  /// every observer's view (the diffs applied in order) equals the true set.
  @Test(arguments: 1...8 as ClosedRange<UInt64>)
  func everyObserversViewEqualsTheTrueSetOnceLeasesPass(seed: UInt64) throws {
    let clock = Clock()
    let core = try core(clock)
    defer { try? core.close() }
    var rng = WireRNG(seed: seed)
    let views = (0..<3).map { _ in PresenceView() }
    var subs: [HostSubscription] = []
    for view in views {
      subs.append(
        try core.subscribe(channel: "room:a", presence: { try? view.apply($0.data) }) { _ in })
    }
    defer { for sub in subs { try? core.unsubscribe(sub) } }
    let lease: UInt64 = 10_000
    // The model: who is present, with their status and when their lease ends.
    var truth: [String: (status: String, until: UInt64)] = [:]
    var crashed: Set<String> = []
    let users = ["ada", "bob", "cy", "dee"]
    let clients = ["phone", "laptop"]
    for _ in 0..<300 {
      let user = users[Int(rng.next() % 4)]
      let client = clients[Int(rng.next() % 2)]
      let key = "\(user)/\(client)"
      switch rng.next() % 6 {
      case 0, 1:  // join or update (also a renewal)
        let status = ["online", "away", "busy"][Int(rng.next() % 3)]
        try core.setPresence(channel: "room:a", user: user, client: client, status: status, leaseMs: lease)
        truth[key] = (status, clock.now + lease)
        crashed.remove(key)
      case 2:  // a clean leave
        try core.clearPresence(channel: "room:a", user: user, client: client)
        truth[key] = nil
      case 3:  // a crash: no more renewals
        if truth[key] != nil { crashed.insert(key) }
      case 4:  // heartbeats: everyone alive renews
        for (k, v) in truth where !crashed.contains(k) {
          let parts = k.split(separator: "/").map(String.init)
          try core.setPresence(channel: "room:a", user: parts[0], client: parts[1], status: v.status, leaseMs: lease)
          truth[k] = (v.status, clock.now + lease)
        }
      default:  // time passes
        clock.advance(rng.next() % 4_000)
        truth = truth.filter { $0.value.until > clock.now }
        crashed = crashed.filter { truth[$0] != nil }
      }
      if rng.next() % 5 == 0 { _ = try core.perform { engine in engine.router.flushPresence() } }
      if rng.next() % 10 == 0 {
        // A checkpoint: every change sent, every view the truth (the crashed still count until
        // their lease passes).
        _ = try core.perform { engine in engine.router.flushPresence(force: true) }
        try core.sync()
        let expected = truth.mapValues(\.status)
        for view in views { #expect(view.entries == expected, "seed \(seed) at \(clock.now)") }
      }
    }
    // Everyone stops renewing; once every lease has passed, nobody is left.
    clock.advance(lease + 1)
    _ = try core.perform { engine in engine.router.flushPresence(force: true) }
    try core.sync()
    for view in views { #expect(view.entries.isEmpty, "seed \(seed): ghosts \(view.entries)") }
    #expect(try core.presenceCount(channel: "room:a") == (0, 0))
    #expect(views[0].diffs > 0)
  }

  /// Mid-run views: the same as the book's own entries after a forced flush.
  @Test func aFlushedViewEqualsTheListing() throws {
    let clock = Clock()
    let core = try core(clock)
    defer { try? core.close() }
    let view = PresenceView()
    let sub = try core.subscribe(channel: "room:b", presence: { try? view.apply($0.data) }) { _ in }
    defer { try? core.unsubscribe(sub) }
    // All in one loop turn: the members hear of it once, with each entry's net change.
    try core.perform { _ throws(RealtimeError) in
      try core.setPresence(channel: "room:b", user: "ada", client: "p", leaseMs: 5_000)
      try core.setPresence(channel: "room:b", user: "ada", client: "l", status: "away", leaseMs: 5_000)
      try core.setPresence(channel: "room:b", user: "bob", client: "p", leaseMs: 5_000)
      try core.setPresence(channel: "room:b", user: "bob", client: "p", status: "busy", leaseMs: 5_000)
      try core.clearPresence(channel: "room:b", user: "ada", client: "p")
    }
    try core.sync()
    #expect(view.entries == ["ada/l": "away", "bob/p": "busy"])
    #expect(view.diffs == 1, "one turn's changes arrive as one diff")
    let page = try core.presence(channel: "room:b")
    #expect(page.users == 2 && page.entries == 2)
    #expect(page.page.map { "\($0.user)/\($0.client)" } == ["ada/l", "bob/p"])
    // Paging: one at a time, in order, to the end.
    let first = try core.presence(channel: "room:b", limit: 1)
    #expect(first.page.map(\.user) == ["ada"] && first.next == PresenceCursor(user: "ada", client: "l"))
    let second = try core.presence(channel: "room:b", after: first.next, limit: 1)
    #expect(second.page.map(\.user) == ["bob"] && second.next == nil)
  }

  @Test func badInputIsRefused() throws {
    let core = try core(Clock())
    defer { try? core.close() }
    func code(_ body: () throws -> Void) -> ErrorCode? {
      do {
        try body()
        return nil
      } catch { return (error as? RealtimeError)?.code }
    }
    let big = Array("{\"x\":\"\(String(repeating: "a", count: 1100))\"}".utf8)
    #expect(
      code { try core.setPresence(channel: "room:c", user: "u", client: "c", meta: big, leaseMs: 1) } == .tooLarge)
    #expect(
      code { try core.setPresence(channel: "room:c", user: "u", client: "c", meta: Array("[1]".utf8), leaseMs: 1) }
        == .invalidArgument)
    #expect(
      code { try core.setPresence(channel: "room:c", user: "u", client: "c", meta: Array("{".utf8), leaseMs: 1) }
        == .invalidArgument)
    #expect(code { try core.setPresence(channel: "room:c", user: "", client: "c", leaseMs: 1) } == .invalidArgument)
    #expect(code { try core.setPresence(channel: "room:c", user: "u", client: "c", leaseMs: 0) } == .invalidArgument)
    #expect(
      code { try core.setPresence(channel: "room:c", user: "u", client: "c", status: "", leaseMs: 1) }
        == .invalidArgument)
    #expect(code { try core.setPresence(channel: "quiet:c", user: "u", client: "c", leaseMs: 1) } == .invalidArgument)
    #expect(code { _ = try core.presence(channel: "room:c", limit: 0) } == .invalidArgument)
    #expect(code { _ = try core.presence(channel: "room:c", limit: 1001) } == .invalidArgument)
    #expect(try core.presenceCount(channel: "room:c") == (0, 0), "nothing refused was kept")
  }
}
