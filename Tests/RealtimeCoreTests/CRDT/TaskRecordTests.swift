import Testing

@testable import RealtimeCore

@Suite struct TaskRecordTests {
  /// One random edit of every kind a task has.
  private func randomEdit(
    _ task: inout TaskRecord, _ clock: inout ReplicaClock, wallMs: UInt64, _ rng: inout WireRNG
  ) throws(RealtimeError) {
    let words = ["a", "b", "c", "d"]
    let word = words[Int(rng.next() % 4)]
    let field: TaskRecord.TextField = rng.next() % 2 == 0 ? .title : .description
    switch rng.next() % 15 {
    case 12:
      try task.insert(word + "🙂", into: field, at: Int(rng.next() % 8), utf16: rng.next() % 2 == 0, by: clock)
    case 13: task.delete(from: field, at: Int(rng.next() % 8), length: Int(rng.next() % 3), by: clock)
    case 14: try task.insert(word, into: field, at: Int(rng.next() % 8), by: clock)
    case 0: try task.set(.title("title " + word), by: &clock, wallMs: wallMs)
    case 1: try task.set(.description("text " + word), by: &clock, wallMs: wallMs)
    case 2: try task.set(.status(["todo", "doing", "done"][Int(rng.next() % 3)]), by: &clock, wallMs: wallMs)
    case 3: try task.set(.priority(Int64(rng.next() % 5)), by: &clock, wallMs: wallMs)
    case 4: try task.set(.category(word), by: &clock, wallMs: wallMs)
    case 5: try task.set(.dueDate(rng.next() % 2 == 0 ? nil : Int64(rng.next() % 1000)), by: &clock, wallMs: wallMs)
    case 6:
      let here = task.position.value ?? []
      try task.set(.position(FractionalIndex.between(here, nil, replica: clock.replica)), by: &clock, wallMs: wallMs)
    case 7: try task.set(.deleted(rng.next() % 2 == 0), by: &clock, wallMs: wallMs)
    case 8: task.insert(word, into: .assignees, by: clock)
    case 9: task.remove(word, from: .assignees)
    case 10: task.insert(word, into: .tags, by: clock)
    default: task.remove(word, from: .tags)
    }
  }

  /// 2 to 8 replicas edit one task at random; states travel between them at random, dropped,
  /// duplicated, repeated and out of order; once every replica has every other's last state,
  /// all are identical.
  @Test(arguments: 1...24 as ClosedRange<UInt64>)
  func replicasConvergeWhateverTheDelivery(seed: UInt64) throws {
    var rng = WireRNG(seed: seed)
    let count = 2 + Int(rng.next() % 7)
    var clocks = (0..<count).map { ReplicaClock(ReplicaID(UInt64($0) &* 0x9E37_79B9 &+ seed)) }
    var tasks = Array(repeating: TaskRecord(id: "task-1"), count: count)
    var inFlight: [(to: Int, state: TaskRecord)] = []
    var wall: UInt64 = 1_795_000_000_000
    for _ in 0..<400 {
      wall += rng.next() % 50
      let r = Int(rng.next() % UInt64(count))
      switch rng.next() % 4 {
      case 0, 1: try randomEdit(&tasks[r], &clocks[r], wallMs: wall, &rng)
      case 2:  // send a snapshot, maybe twice
        let to = Int(rng.next() % UInt64(count))
        inFlight.append((to, tasks[r]))
        if rng.next() % 4 == 0 { inFlight.append((to, tasks[r])) }
      default:  // deliver one in-flight state, in any order; sometimes lose it
        guard !inFlight.isEmpty else { continue }
        let message = inFlight.remove(at: Int(rng.next() % UInt64(inFlight.count)))
        if rng.next() % 5 == 0 { continue }
        try tasks[message.to].merge(message.state)
        try clocks[message.to].hlc.observe(tasks[message.to].newestTime, wallMs: wall)
      }
    }
    // Anti-entropy: everyone's state to everyone (what retries achieve in the end).
    for _ in 0..<2 {
      for i in 0..<count { for j in 0..<count where i != j { try tasks[j].merge(tasks[i]) } }
    }
    for task in tasks.dropFirst() { #expect(task == tasks[0], "seed \(seed): replicas differ") }
  }

  /// Merge is idempotent, commutative and associative on random states.
  @Test(arguments: 1...12 as ClosedRange<UInt64>)
  func mergeIsASemilatticeJoin(seed: UInt64) throws {
    var rng = WireRNG(seed: seed)
    var clocks = (0..<3).map { ReplicaClock(ReplicaID(UInt64($0 + 1))) }
    var tasks = Array(repeating: TaskRecord(id: "t"), count: 3)
    for step in 0..<60 {
      let r = Int(rng.next() % 3)
      try randomEdit(&tasks[r], &clocks[r], wallMs: 1_000 + UInt64(step), &rng)
      if rng.next() % 6 == 0 { try tasks[Int(rng.next() % 3)].merge(tasks[r]) }
    }
    let (a, b, c) = (tasks[0], tasks[1], tasks[2])
    func merged(_ x: TaskRecord, _ y: TaskRecord) throws -> TaskRecord {
      var out = x
      try out.merge(y)
      return out
    }
    #expect(try merged(a, a) == a)
    #expect(try merged(a, b) == merged(b, a))
    #expect(try merged(merged(a, b), c) == merged(a, merged(b, c)))
  }

  @Test func concurrentWritesStayVisibleUntilResolved() throws {
    var ada = ReplicaClock(ReplicaID(1))
    var bob = ReplicaClock(ReplicaID(2))
    var mine = TaskRecord(id: "t")
    var theirs = TaskRecord(id: "t")
    try mine.set(.status("doing"), by: &ada, wallMs: 1_000)
    try theirs.set(.status("done"), by: &bob, wallMs: 2_000)
    try mine.merge(theirs)
    #expect(mine.status.isConflicted && Set(mine.status.values) == ["doing", "done"])
    #expect(mine.status.value == "done", "the last writer's value is the value")
    try mine.set(.status("review"), by: &ada, wallMs: 1_500)  // resolves, even with a slower clock
    try theirs.merge(mine)
    #expect(theirs.status.values == ["review"] && !theirs.status.isConflicted)
  }

  /// Swift compares strings by canonical equivalence, so "é" and "e" + U+0301 are one element;
  /// replicas that added different spellings still end with the same bytes, and a record that
  /// lists both spellings is refused (it would not re-encode to itself).
  @Test func equivalentSpellingsConvergeToOneEncoding() throws {
    let composed = "caf\u{E9}"
    let decomposed = "cafe\u{301}"
    #expect(composed == decomposed && Array(composed.utf8) != Array(decomposed.utf8))
    var ada = ReplicaClock(ReplicaID(1))
    var bob = ReplicaClock(ReplicaID(2))
    var a = TaskRecord(id: "t")
    try a.set(.title("x"), by: &ada, wallMs: 1_800_000_000_000)
    var b = a
    try b.set(.title("y"), by: &bob, wallMs: 1_800_000_000_000)
    a.insert(decomposed, into: .tags, by: ada)
    b.insert(composed, into: .tags, by: bob)
    let fromA = a
    try a.merge(b)
    try b.merge(fromA)
    #expect(a == b)
    #expect(a.encoded() == b.encoded(), "the same bytes whichever spelling each replica saw first")
    #expect(a.tags.elements.count == 1)
    // Both spellings in one encoded set: written with a placeholder of the same length that
    // sorts the same way, then patched to the other spelling. Refused.
    var other = TaskRecord(id: "t")
    other.insert(composed, into: .tags, by: ada)
    other.insert("cafeZZ", into: .tags, by: ada)
    var bytes = other.encoded()
    let placeholder = Array("cafeZZ".utf8)
    let at = try #require(bytes.firstRange(of: placeholder))
    bytes.replaceSubrange(at, with: Array(decomposed.utf8))
    #expect(throws: RealtimeError.self) { try TaskRecord(decoding: bytes, wallMs: 1_800_000_000_000) }
  }

  @Test func anAddConcurrentWithARemoveWins() throws {
    let ada = ReplicaClock(ReplicaID(1))
    let bob = ReplicaClock(ReplicaID(2))
    var base = TaskRecord(id: "t")
    base.insert("cy", into: .assignees, by: ada)
    var mine = base
    var theirs = base
    mine.remove("cy", from: .assignees)
    theirs.insert("cy", into: .assignees, by: bob)  // re-added concurrently
    theirs.insert("dee", into: .tags, by: bob)
    try mine.merge(theirs)
    #expect(mine.assignees.elements == ["cy"] && mine.tags.elements == ["dee"])
    // A remove that has seen the add takes it out.
    mine.remove("cy", from: .assignees)
    try theirs.merge(mine)
    #expect(theirs.assignees.elements.isEmpty)
  }

  @Test func fractionalKeysOrderAndNeverCollide() {
    var rng = WireRNG(seed: 5)
    var keys: [[UInt8]] = [FractionalIndex.between([], nil, replica: ReplicaID(1))]
    for _ in 0..<2_000 {
      let i = Int(rng.next() % UInt64(keys.count + 1))
      let before = i == 0 ? [] : keys[i - 1]
      let after = i == keys.count ? nil : keys[i]
      let key = FractionalIndex.between(before, after, replica: ReplicaID(rng.next() % 3 + 1))
      #expect(before.lexicographicallyPrecedes(key))
      if let after { #expect(key.lexicographicallyPrecedes(after)) }
      keys.insert(key, at: i)
    }
    // Two replicas placing at the same spot get different keys.
    let a = FractionalIndex.between([5], [6], replica: ReplicaID(1))
    let b = FractionalIndex.between([5], [6], replica: ReplicaID(2))
    #expect(a != b)
    // Keys out of order (hostile input) still give a key after the first, without looping.
    #expect([9].lexicographicallyPrecedes(FractionalIndex.between([9], [3], replica: ReplicaID(1))))
  }

  @Test func clocksRefuseTimestampsFarInTheFuture() throws {
    var clock = HybridClock()
    let t1 = clock.now(wallMs: 1_000)
    let t2 = clock.now(wallMs: 1_000)
    #expect(t2 > t1, "same millisecond: the counter moves")
    #expect(clock.now(wallMs: 900) > t2, "a wall clock stepping back does not")
    try clock.observe(HybridClock.pack(5_000, 3), wallMs: 1_000)
    #expect(clock.now(wallMs: 1_000) > HybridClock.pack(5_000, 3))
    #expect(throws: RealtimeError.self) {
      try clock.observe(HybridClock.pack(1_000 + HybridClock.maxDriftMs + 1, 0), wallMs: 1_000)
    }
    var other = TaskRecord(id: "other")
    var ada = ReplicaClock(ReplicaID(1))
    try other.set(.title("x"), by: &ada, wallMs: 1)
    var task = TaskRecord(id: "t")
    #expect(throws: RealtimeError.self) { try task.merge(other) }
    #expect(task == TaskRecord(id: "t"), "a refused merge changes nothing")
  }
}
