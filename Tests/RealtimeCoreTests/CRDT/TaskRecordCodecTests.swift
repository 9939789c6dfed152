import Testing

@testable import RealtimeCore

@Suite struct TaskRecordCodecTests {
  private func sample() throws -> TaskRecord {
    var ada = ReplicaClock(ReplicaID(0xADA))
    var bob = ReplicaClock(ReplicaID(0xB0B))
    var task = TaskRecord(id: "task-7")
    try task.set(.title("Ship presence"), by: &ada, wallMs: 1_795_000_000_000)
    try task.set(.status("doing"), by: &ada, wallMs: 1_795_000_000_001)
    try task.set(.priority(-3), by: &ada, wallMs: 1_795_000_000_002)
    try task.set(.dueDate(1_796_000_000_000), by: &ada, wallMs: 1_795_000_000_003)
    try task.set(.position(FractionalIndex.between([], nil, replica: ada.replica)), by: &ada, wallMs: 1_795_000_000_004)
    task.insert("ada", into: .assignees, by: ada)
    task.insert("urgent", into: .tags, by: ada)
    var theirs = TaskRecord(id: "task-7")
    try theirs.set(.status("done"), by: &bob, wallMs: 1_795_000_000_005)  // concurrent: a conflict
    theirs.insert("bob", into: .assignees, by: bob)
    try theirs.set(.deleted(false), by: &bob, wallMs: 1_795_000_000_006)
    try task.insert("Notes: 🙂", into: .description, at: 0, by: ada)
    try theirs.insert("Bob's notes", into: .description, at: 0, by: bob)  // concurrent: both stay
    try task.merge(theirs)
    task.delete(from: .description, at: 0, length: 1, by: ada)
    return task
  }

  @Test func aStateSurvivesEncodingUnchanged() throws {
    let task = try sample()
    let bytes = task.encoded()
    let decoded = try TaskRecord(decoding: bytes, wallMs: 1_795_000_000_000)
    #expect(decoded == task)
    #expect(decoded.encoded() == bytes, "canonical: the same state, the same bytes")
    #expect(decoded.status.isConflicted)
    #expect(decoded.title.text == "Ship presence")
    #expect(decoded.description.text.count == "otes: 🙂Bob's notes".count, "\(decoded.description.text)")
  }

  /// Format 1 (title and description as registers) is another format now.
  @Test func theRegisterFormatIsRefused() throws {
    let old: [UInt8] = [1, 1, 0x74, 1, 1, 0x75, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    #expect(throws: RealtimeError.self) { try TaskRecord(decoding: old, wallMs: 0) }
    do throws(RealtimeError) { _ = try TaskRecord(decoding: old, wallMs: 0) } catch { #expect(error.code == .version) }
  }

  /// A state's text fields are text snapshots that hold something; text updates belong in
  /// commits, and whatever is refused names the record.
  @Test func textFieldsDecodeAsSnapshotsOnly() throws {
    let ada = ReplicaClock(ReplicaID(5))
    var task = TaskRecord(id: "t")
    try task.insert("hello", into: .title, at: 0, by: ada)
    let state = task.encoded()
    #expect(try TaskRecord(decoding: state, wallMs: 0) == task)
    // The same record with its title as a text update: a commit's form, not a state's.
    let text = TextDocument(replica: ReplicaID(5))
    try text.insert("hello", at: 0)
    let update = try #require(text.commit())
    let asUpdate = task.encoded(title: update, description: [])
    #expect(throws: RealtimeError.self) { try TaskRecord(decoding: asUpdate, wallMs: 0) }
    var ranges: (title: Range<Int>, description: Range<Int>) = (0..<0, 0..<0)
    let decoded = try TaskRecord(decoding: asUpdate, wallMs: 0, form: .commit, texts: &ranges)
    #expect(Array(asUpdate[ranges.title]) == update && ranges.description.isEmpty)
    var merged = TaskRecord(id: "t")
    try merged.merge(decoded)
    #expect(merged.title.text == "hello" && merged == task)
    // An empty snapshot, and a snapshot with nothing: not canonical.
    let empty = TextDocument(replica: ReplicaID(5)).snapshot()
    #expect(throws: RealtimeError.self) {
      try TaskRecord(decoding: task.encoded(title: empty, description: []), wallMs: 0)
    }
    #expect(throws: RealtimeError.self) {
      try TaskRecord(decoding: task.encoded(title: [9], description: []), wallMs: 0)
    }
  }

  /// Replicas that converged have identical encodings, whatever order they merged in.
  @Test func convergedReplicasEncodeIdentically() throws {
    var rng = WireRNG(seed: 11)
    var clocks = (0..<4).map { ReplicaClock(ReplicaID(UInt64($0) + 100)) }
    var tasks = Array(repeating: TaskRecord(id: "t"), count: 4)
    for step in 0..<200 {
      let r = Int(rng.next() % 4)
      switch rng.next() % 4 {
      case 0: try tasks[r].set(.title("t\(step)"), by: &clocks[r], wallMs: 1_000 + UInt64(step))
      case 1: tasks[r].insert("x\(step % 5)", into: .tags, by: clocks[r])
      case 2: tasks[r].remove("x\(step % 5)", from: .tags)
      default: try tasks[Int(rng.next() % 4)].apply(tasks[r].encoded(), wallMs: 1_000)
      }
    }
    for i in 0..<4 { for j in 0..<4 where i != j { try tasks[j].apply(tasks[i].encoded(), wallMs: 1_000) } }
    let encodings = Set(tasks.map { $0.encoded() })
    #expect(encodings.count == 1)
  }

  /// Truncated, bit-flipped, oversized, future-dated or inconsistent input: an error, and the
  /// record it was applied to is unchanged.
  @Test func hostileInputIsRefusedAndChangesNothing() throws {
    let good = try sample().encoded()
    var rng = WireRNG(seed: 3)
    var target = TaskRecord(id: "task-7")
    var ada = ReplicaClock(ReplicaID(1))
    try target.set(.title("mine"), by: &ada, wallMs: 1_795_000_000_000)
    let before = target
    var refused = 0
    for cut in 0..<good.count {
      do { try target.apply(Array(good[..<cut]), wallMs: 1_795_000_000_000) } catch { refused += 1 }
      #expect(target == before, "a cut at \(cut) changed the record")
    }
    #expect(refused == good.count, "every truncation is refused")
    for _ in 0..<2_000 {
      var bytes = good
      let i = Int(rng.next() % UInt64(bytes.count))
      bytes[i] ^= UInt8(1 << (rng.next() % 8))
      var copy = target
      do {
        try copy.apply(bytes, wallMs: 1_795_000_000_000)
      } catch {
        #expect(copy == target, "a refused update changed the record")
      }
    }
    // A timestamp more than a day ahead of the receiver's clock.
    #expect(throws: RealtimeError.self) { try target.apply(good, wallMs: 1_794_000_000_000) }
    // Another task's state.
    var other = TaskRecord(id: "other")
    try other.set(.title("x"), by: &ada, wallMs: 1_795_000_000_000)
    #expect(throws: RealtimeError.self) { try target.apply(other.encoded(), wallMs: 1_795_000_000_000) }
    // A huge count with nothing behind it.
    #expect(throws: RealtimeError.self) {
      try TaskRecord(decoding: [1, 1, 0x74, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], wallMs: 0)
    }
    #expect(target == before)
  }

  /// Found by fuzz-task-record: a varint with a needless last 0 byte (0xF5 0x00 for 117) decoded
  /// to the same state as its short form, so two encodings of one state existed.
  @Test func overlongVarintsAreRefused() throws {
    let canonical: [UInt8] = [2, 1, 0x74, 1, 1, 0x75, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    #expect(try TaskRecord(decoding: canonical, wallMs: 0).encoded() == canonical)
    let overlong: [UInt8] = [2, 1, 0x74, 1, 1, 0xF5, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    #expect(throws: RealtimeError.self) { try TaskRecord(decoding: overlong, wallMs: 0) }
  }
}
