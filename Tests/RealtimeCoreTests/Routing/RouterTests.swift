import Testing

@testable import RealtimeCore

/// Channels through the Core's public API, as a host uses them, on a running loop.
@Suite struct RouterTests {
  private func running(_ path: String? = nil, durability: Durability = .full) throws -> Core {
    let core = try Core(config: CoreConfig(databasePath: path, durability: durability))
    try core.start()
    return core
  }

  private func data(_ n: Int) -> [UInt8] { Array("{\"n\":\(n)}".utf8) }

  @Test func inMemoryChannelsDeliverInOrderAndKeepBoundedHistory() throws {
    let core = try running()
    defer { try? core.close() }
    try core.configure(namespace: "mem", NamespaceOptions(persistent: false, historySize: 3))
    let got = Collector<UInt64>()
    let subscription = try core.subscribe(channel: "mem:a") { got.add($0.offset) }
    #expect(subscription.offset == 0 && subscription.recovered == nil)
    for n in 1...5 {
      let published = try core.publish(channel: "mem:a", data: data(n), dataIsJSON: true)
      #expect(published.offset == UInt64(n) && !published.duplicate)
    }
    try core.sync()
    #expect(got.all == [1, 2, 3, 4, 5])
    let history = try core.history(channel: "mem:a")
    #expect(history.messages.map(\.offset) == [3, 4, 5])
    #expect(history.messages.map(\.data) == [data(3), data(4), data(5)])
    #expect(history.top == 5 && history.epoch == subscription.epoch)

    // Recovery reaches back as far as history does, and no further.
    let late = Collector<UInt64>()
    let recovered = try core.subscribe(channel: "mem:a", since: (subscription.epoch, 2)) { late.add($0.offset) }
    #expect(recovered.recovered == true)
    try core.sync()
    #expect(late.all == [3, 4, 5])
    let tooLate = try core.subscribe(channel: "mem:a", since: (subscription.epoch, 1)) { _ in }
    #expect(tooLate.recovered == false)
    let otherEpoch = try core.subscribe(channel: "mem:a", since: ("not-the-epoch", 4)) { _ in }
    #expect(otherEpoch.recovered == false)
    try core.unsubscribe(subscription)
    _ = try core.publish(channel: "mem:a", data: data(6), dataIsJSON: true)
    try core.sync()
    #expect(got.all == [1, 2, 3, 4, 5], "nothing after unsubscribe")
    #expect(late.all == [3, 4, 5, 6])
  }

  @Test func persistentChannelsSurviveRestartWithTheirEpochAndKeys() throws {
    let dir = try TempDir()
    let path = dir.file("channels.db")
    var epoch = ""
    do {
      let core = try running(path)
      for n in 1...10 {
        let published = try core.publish(channel: "room", data: data(n), dataIsJSON: true, idempotencyKey: "k\(n)")
        #expect(published.offset == UInt64(n))
        epoch = published.epoch
      }
      try core.close()
    }
    let core = try running(path)
    defer { try? core.close() }
    let history = try core.history(channel: "room", after: 0, limit: 1000)
    #expect(history.epoch == epoch && history.top == 10)
    #expect(history.messages.map(\.offset) == Array(1...10))
    #expect(history.messages.allSatisfy { $0.dataIsJSON && $0.time > 0 })
    // A retried publish after the restart still finds its key.
    let retry = try core.publish(channel: "room", data: data(3), dataIsJSON: true, idempotencyKey: "k3")
    #expect(retry.offset == 3 && retry.duplicate)
    let replay = Collector<UInt64>()
    let subscription = try core.subscribe(channel: "room", since: (epoch, 4)) { replay.add($0.offset) }
    #expect(subscription.recovered == true)
    #expect(try core.publish(channel: "room", data: data(11), dataIsJSON: true).offset == 11)
    try core.sync()
    #expect(replay.all == Array(5...11))
  }

  @Test func idempotentPublishStoresNothingTwice() throws {
    let core = try running()
    defer { try? core.close() }
    let first = try core.publish(channel: "c", data: [1, 2, 3], idempotencyKey: "same")
    let second = try core.publish(channel: "c", data: [9, 9, 9], idempotencyKey: "same")
    #expect(first.offset == 1 && !first.duplicate)
    #expect(second.offset == 1 && second.duplicate)
    let history = try core.history(channel: "c")
    #expect(history.messages.map(\.data) == [[1, 2, 3]])
  }

  @Test func badInputIsRefusedAndNothingIsStored() throws {
    let core = try running()
    defer { try? core.close() }
    let cases: [(String, [UInt8], Bool, ErrorCode)] = [
      ("", [1], false, .invalidArgument),
      ("has space", [1], false, .invalidArgument),
      ("caf\u{e9}", [1], false, .invalidArgument),
      ("has#hash", [1], false, .invalidArgument),
      (String(repeating: "x", count: 256), [1], false, .invalidArgument),
      ("nope:x", [1], false, .notFound),
      ("c", Array("{\"a\":".utf8), true, .invalidArgument),
      ("c", [UInt8](repeating: 0, count: (1 << 20) + 1), false, .tooLarge),
    ]
    for (channel, payload, isJSON, code) in cases {
      do {
        _ = try core.publish(channel: channel, data: payload, dataIsJSON: isJSON)
        Issue.record("\(channel.prefix(20)) was accepted")
      } catch {
        #expect(error.code == code, "\(channel.prefix(20)): \(error.message)")
      }
    }
    #expect(throws: RealtimeError.self) { _ = try core.publish(channel: "c", data: [1], idempotencyKey: "") }
    for limit in [0, 1001, Int.max] {
      #expect(throws: RealtimeError.self) { _ = try core.history(channel: "c", limit: limit) }
    }
    #expect(throws: RealtimeError.self) { _ = try core.history(channel: "nope:x") }
    #expect(try core.history(channel: "c").messages.isEmpty)
    #expect(throws: RealtimeError.self) {
      try core.configure(namespace: "Bad!", NamespaceOptions())
    }
    #expect(throws: RealtimeError.self) {
      try core.configure(namespace: "ok", NamespaceOptions(historySize: 0))
    }
  }

  @Test func storedHistoryIsTrimmedToItsSizeKeepingTheNewest() throws {
    let dir = try TempDir()
    let core = try running(dir.file("trim.db"), durability: .normal)
    defer { try? core.close() }
    try core.configure(namespace: "small", NamespaceOptions(historySize: 10))
    for n in 1...200 { _ = try core.publish(channel: "small:x", data: data(n), dataIsJSON: true) }
    try core.sync()
    // Trimmed every 64 publishes: after the one at 192, offsets below 183 are gone.
    let stored = try core.read(stream: "#small:x", after: 0, limit: 1000)
    #expect(stored.first?.seq == 183 && stored.last?.seq == 200)
    let subscription = try core.subscribe(channel: "small:x", since: ("", 0)) { _ in }
    #expect(subscription.recovered == false)
    let old = try core.subscribe(channel: "small:x", since: (subscription.epoch, 100)) { _ in }
    #expect(old.recovered == false, "history no longer reaches offset 101")
    let recent = try core.subscribe(channel: "small:x", since: (subscription.epoch, 195)) { _ in }
    #expect(recent.recovered == true)
  }

  @Test func storedHistoryIsTrimmedByAgeKeepingTheNewest() throws {
    let dir = try TempDir()
    let core = try running(dir.file("age.db"), durability: .normal)
    defer { try? core.close() }
    try core.configure(namespace: "aged", NamespaceOptions(historySize: 1000, historyAgeMs: 60_000))
    final class Clock: @unchecked Sendable { var now: UInt64 = 1_000_000 }
    let clock = Clock()
    try core.perform { engine in engine.router.clock = { clock.now } }
    for n in 1...100 { _ = try core.publish(channel: "aged:x", data: data(n), dataIsJSON: true) }
    // Two minutes later: the first 100 are past the one-minute age when the next trim runs
    // (every 64 publishes), except what a later trim must keep.
    try core.perform { _ in clock.now += 120_000 }
    for n in 101...128 { _ = try core.publish(channel: "aged:x", data: data(n), dataIsJSON: true) }
    try core.sync()
    let stored = try core.read(stream: "#aged:x", after: 0, limit: 1000)
    #expect(stored.first?.seq == 101 && stored.last?.seq == 128, "\(stored.first?.seq ?? 0)...\(stored.last?.seq ?? 0)")
    #expect(stored.allSatisfy { $0.payload.count > 0 })
    // Much later: the next trim removes the second batch too, and offsets continue from the last.
    try core.perform { _ in clock.now += 10_000_000 }
    for n in 129...192 { _ = try core.publish(channel: "aged:x", data: data(n), dataIsJSON: true) }
    try core.sync()
    #expect(try core.read(stream: "#aged:x", after: 0, limit: 1000).map(\.seq) == Array(129...192))
  }

  /// Random publishers, subscribers that leave and come back with their position, on in-memory
  /// and persistent channels: every subscriber sees each channel's offsets in order with no gap
  /// and no duplicate, recovering from history (or refetching it when recovery is refused). A
  /// reader starts over only where history no longer has what it missed.
  @Test(arguments: 0..<4)
  func subscribersSeeEveryMessageOnceInOrder(seed: UInt64) throws {
    var rng = WireRNG(seed: seed &+ 77)
    let core = try running(durability: .normal)
    defer { try? core.close() }
    try core.configure(namespace: "mem", NamespaceOptions(persistent: false, historySize: 20))
    try core.configure(namespace: "p", NamespaceOptions(historySize: 50))
    let channels = ["mem:a", "mem:b", "p:c", "p:d"]

    final class Reader: @unchecked Sendable {
      let channel: String
      var subscription: HostSubscription?
      var epoch: String?
      /// Offsets seen, in arrival order; `restarts` marks where the reader had to start over.
      let seen = Collector<UInt64>()
      var restarts: [Int] = []
      let log = Collector<String>()
      init(channel: String) { self.channel = channel }
    }
    let readers = (0..<12).map { Reader(channel: channels[$0 % channels.count]) }
    var published = [String: UInt64]()

    for step in 0..<600 {
      let reader = readers[Int.random(in: 0..<readers.count, using: &rng)]
      switch Int.random(in: 0..<10, using: &rng) {
      case 0...5:
        let channel = channels[Int.random(in: 0..<channels.count, using: &rng)]
        published[channel] = try core.publish(channel: channel, data: data(step), dataIsJSON: true).offset
      case 6, 7:
        if let subscription = reader.subscription {
          try core.unsubscribe(subscription)
          reader.log.add("unsub@\(step)")
          reader.subscription = nil
        }
      default:
        guard reader.subscription == nil else { continue }
        let last = reader.seen.all.last
        let seen = reader.seen
        let since = reader.epoch.flatMap { epoch in last.map { (epoch, $0) } }
        let generation = step
        let log = reader.log
        let subscription = try core.subscribe(channel: reader.channel, since: since) {
          seen.add($0.offset)
          log.add("g\(generation):\($0.offset)")
        }
        log.add(
          "sub@\(step) since \(String(describing: since)) -> top \(subscription.offset) rec \(String(describing: subscription.recovered))"
        )
        reader.epoch = subscription.epoch
        reader.subscription = subscription
        if subscription.recovered == true { continue }
        // Not recovered: what came before the subscription's start is read from history (this
        // test thread is the only publisher, so nothing is published meanwhile).
        let from = last ?? 0
        guard subscription.offset > from else { continue }
        let history = try core.history(channel: reader.channel, after: from, limit: 1000)
        #expect(history.top == subscription.offset)
        if history.messages.first?.offset != from + 1 { reader.restarts.append(seen.all.count) }
        for message in history.messages {
          seen.add(message.offset)
          reader.log.add("h:\(message.offset)")
        }
      }
    }
    try core.sync()
    for reader in readers {
      let offsets = reader.seen.all
      for index in 1..<max(offsets.count, 1) where !reader.restarts.contains(index) {
        #expect(
          offsets[index] == offsets[index - 1] + 1,
          "\(reader.channel) at \(index) (seed \(seed)); events: \(reader.log.all.suffix(40))")
      }
      if let subscription = reader.subscription, let last = offsets.last {
        #expect(last == published[reader.channel] ?? 0, "a live reader is up to date (seed \(seed))")
        _ = subscription
      }
    }
  }
}
