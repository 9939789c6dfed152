import Testing

@testable import RealtimeCore

/// Convergence across every document kind at once: 2 to 8 replicas each hold a text, a task
/// list and a file, and make random concurrent edits of every kind (text inserts and deletes,
/// task fields, set adds and removes, soft deletes, file writes and conflict resolutions).
/// Updates travel in random order, duplicated, some dropped and some retried; a final round of
/// state vectors and diffs stands for the reconnect. Every replica must end with identical
/// snapshot bytes for every document.
@Suite struct MixedConvergenceTests {
  private static let wall: UInt64 = 1_795_000_000_000

  /// One device: a document of each kind, on the test's wall clock.
  private struct Device {
    let text: TextDocument
    let tasks: TaskListDocument
    let file: FileDocument
    var documents: [any ReplicatedDocument] { [text, tasks, file] }

    init(_ id: UInt64, clock: @escaping () -> UInt64) {
      text = TextDocument(replica: ReplicaID(id))
      tasks = TaskListDocument(replica: ReplicaID(id))
      tasks.wallClock = clock
      file = FileDocument(replica: ReplicaID(id), wallClock: clock)
    }
  }

  /// An update in flight: which document (0 text, 1 tasks, 2 file) and its bytes.
  private struct Sent {
    let kind: Int
    let bytes: [UInt8]
  }

  @Test(arguments: 0..<25) func everyKindConvergesTogether(seed: UInt64) throws {
    var rng = WireRNG(seed: seed &* 7919 &+ 11)
    var now = Self.wall
    let chunks = ChunkStore()
    let count = Int(rng.next() % 7) + 2
    let devices = (0..<count).map { Device(UInt64($0) + 1) { now } }
    var inFlight: [Sent] = []
    let words = ["alpha ", "β ", "😀", "x", "long line\n", "é"]
    let taskIDs = ["t1", "t2", "t3"]

    for step in 0..<400 {
      now += rng.next() % 2
      let device = devices[Int(rng.next() % UInt64(count))]
      switch rng.next() % 10 {
      case 0...3:
        let t = device.text
        if rng.next() % 3 == 0, t.count > 0 {
          let at = Int(rng.next() % UInt64(t.count))
          t.delete(at: at, length: Int(rng.next() % 4) + 1)
        } else {
          try t.insert(words[Int(rng.next() % UInt64(words.count))], at: Int(rng.next() % UInt64(t.count + 1)))
        }
      case 4...6:
        let task = taskIDs[Int(rng.next() % UInt64(taskIDs.count))]
        switch rng.next() % 5 {
        case 0: try device.tasks.set(.status(["todo", "doing", "done"][Int(rng.next() % 3)]), of: task, wallMs: now)
        case 1: try device.tasks.set(.priority(Int64(rng.next() % 5)), of: task, wallMs: now)
        case 2: try device.tasks.insert("tag\(rng.next() % 3)", into: .tags, of: task)
        case 3: try device.tasks.remove("tag\(rng.next() % 3)", from: .tags, of: task)
        default: try device.tasks.set(.deleted(rng.next() % 2 == 0), of: task, wallMs: now)
        }
      default:
        if device.file.versions.count > 1, rng.next() % 2 == 0 {
          try device.file.resolve(keeping: Int(rng.next() % UInt64(device.file.versions.count)))
        } else {
          var content = WireRNG(seed: seed &* 1000 &+ UInt64(step))
          try device.file.replace(with: chunks.add(content.bytes(Int(content.next() % 5000))))
        }
      }
      // Commit now and then, so transactions hold several edits.
      if rng.next() % 3 == 0 {
        for (kind, doc) in device.documents.enumerated() {
          if let update = doc.commit() { inFlight.append(Sent(kind: kind, bytes: update)) }
        }
      }
      // Deliver some updates: to a random device, duplicated or not; some are dropped.
      for _ in 0..<(rng.next() % 3) where !inFlight.isEmpty {
        let index = Int(rng.next() % UInt64(inFlight.count))
        let sent = inFlight[index]
        if rng.next() % 5 == 0 { inFlight.remove(at: index) }  // dropped after this delivery
        if rng.next() % 7 == 0 { continue }  // lost on the way, retried later
        let target = devices[Int(rng.next() % UInt64(count))]
        try target.documents[sent.kind].apply(sent.bytes)
      }
    }
    // Reconnect: everything commits, then every pair syncs by state vector and diff.
    for device in devices { for doc in device.documents { _ = doc.commit() } }
    for _ in 0..<2 {
      for a in devices {
        for b in devices where a.text !== b.text {
          for kind in 0..<3 {
            try b.documents[kind].apply(a.documents[kind].diff(since: b.documents[kind].stateVector))
          }
        }
      }
    }
    for kind in 0..<3 {
      let expected = devices[0].documents[kind].snapshot()
      for (i, device) in devices.enumerated() {
        #expect(device.documents[kind].snapshot() == expected, "device \(i), kind \(kind), seed \(seed)")
        #expect(device.documents[kind].waiting == 0)
      }
    }
    #expect(devices.allSatisfy { $0.text.text == devices[0].text.text })
  }
}
