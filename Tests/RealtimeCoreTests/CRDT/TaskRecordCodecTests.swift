import Testing

@testable import RealtimeCore

@Suite struct TaskRecordCodecTests {
  private func sample() -> TaskRecord {
    var ada = ReplicaClock(ReplicaID(0xADA))
    var bob = ReplicaClock(ReplicaID(0xB0B))
    var task = TaskRecord(id: "task-7")
    task.set(.title("Ship presence"), by: &ada, wallMs: 1_795_000_000_000)
    task.set(.status("doing"), by: &ada, wallMs: 1_795_000_000_001)
    task.set(.priority(-3), by: &ada, wallMs: 1_795_000_000_002)
    task.set(.dueDate(1_796_000_000_000), by: &ada, wallMs: 1_795_000_000_003)
    task.set(.position(FractionalIndex.between([], nil, replica: ada.replica)), by: &ada, wallMs: 1_795_000_000_004)
    task.insert("ada", into: .assignees, by: ada)
    task.insert("urgent", into: .tags, by: ada)
    var theirs = TaskRecord(id: "task-7")
    theirs.set(.status("done"), by: &bob, wallMs: 1_795_000_000_005)  // concurrent: a conflict
    theirs.insert("bob", into: .assignees, by: bob)
    theirs.set(.deleted(false), by: &bob, wallMs: 1_795_000_000_006)
    try? task.merge(theirs)
    return task
  }

  @Test func aStateSurvivesEncodingUnchanged() throws {
    let task = sample()
    let bytes = task.encoded()
    let decoded = try TaskRecord(decoding: bytes, wallMs: 1_795_000_000_000)
    #expect(decoded == task)
    #expect(decoded.encoded() == bytes, "canonical: the same state, the same bytes")
    #expect(decoded.status.isConflicted)
  }

  /// Replicas that converged have identical encodings, whatever order they merged in.
  @Test func convergedReplicasEncodeIdentically() throws {
    var rng = WireRNG(seed: 11)
    var clocks = (0..<4).map { ReplicaClock(ReplicaID(UInt64($0) + 100)) }
    var tasks = Array(repeating: TaskRecord(id: "t"), count: 4)
    for step in 0..<200 {
      let r = Int(rng.next() % 4)
      switch rng.next() % 4 {
      case 0: tasks[r].set(.title("t\(step)"), by: &clocks[r], wallMs: 1_000 + UInt64(step))
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
    let good = sample().encoded()
    var rng = WireRNG(seed: 3)
    var target = TaskRecord(id: "task-7")
    var ada = ReplicaClock(ReplicaID(1))
    target.set(.title("mine"), by: &ada, wallMs: 1_795_000_000_000)
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
    other.set(.title("x"), by: &ada, wallMs: 1_795_000_000_000)
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
    let canonical: [UInt8] = [1, 1, 0x74, 1, 1, 0x75, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    #expect(try TaskRecord(decoding: canonical, wallMs: 0).encoded() == canonical)
    let overlong: [UInt8] = [1, 1, 0x74, 1, 1, 0xF5, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    #expect(throws: RealtimeError.self) { try TaskRecord(decoding: overlong, wallMs: 0) }
  }
}
