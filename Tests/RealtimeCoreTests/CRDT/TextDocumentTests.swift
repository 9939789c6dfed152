import Foundation
import Testing

@testable import RealtimeCore

@Suite struct TextDocumentTests {
  @Test func localEditsMakeTheText() throws {
    let doc = TextDocument(replica: ReplicaID(1))
    try doc.insert("hello world", at: 0)
    doc.delete(at: 5, length: 6)
    try doc.insert(", there", at: 5)
    try doc.insert("Oh ", at: 0)
    #expect(doc.text == "Oh hello, there" && doc.count == 15)
    doc.delete(at: 0, length: 100)
    #expect(doc.text.isEmpty && doc.count == 0)
    try doc.insert("é🙂x", at: 99)
    #expect(doc.text == "é🙂x" && doc.count == 3 && doc.utf16Count == 4, "positions count Unicode scalars")
  }

  @Test func utf16PositionsAreConverted() throws {
    let doc = TextDocument(replica: ReplicaID(1))
    try doc.insert("a🙂b", at: 0)
    try doc.insert("X", atUTF16: 3)  // after the surrogate pair
    #expect(doc.text == "a🙂Xb")
    doc.delete(atUTF16: 2, length: 1)  // half of the pair: the whole scalar goes
    #expect(doc.text == "aXb" && doc.utf16Count == 3)
  }

  /// Concurrent insertions at one place do not interleave: each replica's run stays whole.
  @Test func concurrentRunsDoNotInterleave() throws {
    let ada = TextDocument(replica: ReplicaID(1))
    let bob = TextDocument(replica: ReplicaID(2))
    try ada.insert("[]", at: 0)
    try bob.apply(try #require(ada.commit()))
    for (i, c) in "alpha".enumerated() { try ada.insert(String(c), at: 1 + i) }
    for (i, c) in "beta".enumerated() { try bob.insert(String(c), at: 1 + i) }
    let a = try #require(ada.commit())
    let b = try #require(bob.commit())
    try ada.apply(b)
    try bob.apply(a)
    #expect(ada.text == bob.text)
    #expect(ada.text == "[alphabeta]" || ada.text == "[betaalpha]")
    let same = ada.snapshot() == bob.snapshot()
    #expect(same)
  }

  /// 2 to 8 replicas type and delete at random, committing now and then; updates travel at
  /// random, out of order, duplicated and dropped (a drop is made up by a later exchange of
  /// state vectors and diffs); all end with the same text and the same snapshot bytes, and a
  /// snapshot loads back to the same state.
  @Test(arguments: 1...30 as ClosedRange<UInt64>)
  func replicasConverge(seed: UInt64) throws {
    var rng = WireRNG(seed: seed)
    let count = 2 + Int(rng.next() % 7)
    let docs = (0..<count).map { TextDocument(replica: ReplicaID(UInt64($0) * 7919 + 1)) }
    var inFlight: [(to: Int, update: [UInt8])] = []
    for _ in 0..<400 {
      let r = Int(rng.next() % UInt64(count))
      let doc = docs[r]
      switch rng.next() % 6 {
      case 0, 1, 2:
        let word = ["a", "bc", "déf", "g🙂ij"][Int(rng.next() % 4)]
        try doc.insert(word, at: Int(rng.next() % UInt64(doc.count + 1)))
      case 3 where doc.count > 0:
        doc.delete(at: Int(rng.next() % UInt64(doc.count)), length: 1 + Int(rng.next() % 4))
      case 4:
        if let update = doc.commit() {
          for to in 0..<count where to != r { inFlight.append((to, update)) }
        }
      default:
        // Deliver something in flight, in any order; sometimes twice; sometimes lost.
        guard !inFlight.isEmpty else { continue }
        let i = Int(rng.next() % UInt64(inFlight.count))
        let message = rng.next() % 4 == 0 ? inFlight[i] : inFlight.remove(at: i)
        if rng.next() % 6 != 0 { try docs[message.to].apply(message.update) }
      }
      if let problem = doc.sequence.inconsistency() { Issue.record("seed \(seed): \(problem)"); return }
      for d in docs { if let problem = d.sequence.inconsistency() { Issue.record("seed \(seed): \(problem)"); return } }
    }
    for doc in docs { _ = doc.commit() }
    // Anti-entropy: each asks everyone for what it lacks.
    for a in docs { for b in docs where a !== b { try a.apply(b.diff(since: a.stateVector)) } }
    let text = docs[0].text
    let snapshot = docs[0].snapshot()
    for doc in docs {
      #expect(doc.text == text, "seed \(seed)")
      let same = doc.snapshot() == snapshot
      #expect(same, "seed \(seed): identical encodings")
      #expect(doc.waiting == 0)
    }
    let loaded = try TextDocument(replica: ReplicaID(99), snapshot: snapshot)
    let reloaded = loaded.snapshot() == snapshot
    #expect(loaded.text == text && reloaded)
    let fresh = TextDocument(replica: ReplicaID(98))
    try fresh.apply(docs[0].diff(since: VersionVector()))
    let synced = fresh.snapshot() == snapshot
    #expect(fresh.text == text && synced, "one diff from nothing")
  }

  /// A replica that loaded a snapshot goes on editing and syncing with the others.
  @Test func aLoadedReplicaGoesOn() throws {
    let ada = TextDocument(replica: ReplicaID(1))
    try ada.insert("shared text", at: 0)
    _ = ada.commit()
    let bob = try TextDocument(replica: ReplicaID(2), snapshot: ada.snapshot())
    try bob.insert("more ", at: 7)
    try ada.insert("!", at: 11)
    try ada.apply(try #require(bob.commit()))
    try bob.apply(try #require(ada.commit()))
    #expect(ada.text == "shared more text!" && bob.text == ada.text)
    let again = try TextDocument(replica: ReplicaID(1), snapshot: ada.snapshot())
    try again.insert("?", at: 0)
    try bob.apply(try #require(again.commit()))
    #expect(bob.text == "?shared more text!", "the same replica continues its clock after a reload")
  }

  /// Updates that arrive before what they depend on wait, and apply once it arrives.
  @Test func outOfOrderUpdatesWait() throws {
    let ada = TextDocument(replica: ReplicaID(1))
    var updates: [[UInt8]] = []
    for (i, word) in ["one ", "two ", "three"].enumerated() {
      try ada.insert(word, at: ada.count)
      if i == 1 { ada.delete(at: 0, length: 4) }
      updates.append(try #require(ada.commit()))
    }
    let bob = TextDocument(replica: ReplicaID(2))
    try bob.apply(updates[2])
    try bob.apply(updates[1])
    #expect(bob.text.isEmpty && bob.waiting > 0)
    try bob.apply(updates[0])
    #expect(bob.text == "two three" && bob.waiting == 0)
  }

  /// Malformed and hostile updates are refused and change nothing.
  @Test func hostileUpdatesAreRefused() throws {
    let ada = TextDocument(replica: ReplicaID(1))
    try ada.insert("abc", at: 0)
    let good = try #require(ada.commit())
    let bob = TextDocument(replica: ReplicaID(2))
    try bob.insert("x", at: 0)
    let before = bob.snapshot()
    var cases: [[UInt8]] = [[], [0x09], Array(good.dropLast()), good + [0]]
    var huge = good
    huge[huge.count - 8] = 0xFF  // a length field blown up (the run's clock or length)
    cases.append(huge)
    // An update claiming characters bob (replica 2) never typed.
    let mallory = TextDocument(replica: ReplicaID(2))
    try mallory.insert("forged", at: 0)
    try mallory.insert("more", at: 0)
    cases.append(try #require(mallory.commit()))
    for bytes in cases {
      #expect(throws: RealtimeError.self) { try bob.apply(bytes) }
      let unchanged = bob.snapshot() == before
      #expect(unchanged && bob.waiting == 0)
    }
    try bob.apply(good)
    #expect(bob.text.count == 4)
  }

  /// Snapshots that lie about their runs are refused.
  @Test func inconsistentSnapshotsAreRefused() throws {
    let doc = TextDocument(replica: ReplicaID(1))
    try doc.insert("hello", at: 0)
    try doc.insert("X", at: 2)
    doc.delete(at: 0, length: 1)
    let good = doc.snapshot()
    #expect(try TextDocument(replica: ReplicaID(2), snapshot: good).text == "eXllo")
    for i in good.indices {
      for bit in [0, 3, 7] as [UInt8] {
        var bad = good
        bad[i] ^= 1 << bit
        if let loaded = try? TextDocument(replica: ReplicaID(2), snapshot: bad) {
          // What still decodes must be a whole document that syncs.
          let other = TextDocument(replica: ReplicaID(3))
          try other.apply(loaded.diff(since: VersionVector()))
          #expect(other.count == loaded.count)
        }
      }
    }
    for n in 0..<good.count {
      #expect(throws: RealtimeError.self) { try TextDocument(replica: ReplicaID(2), snapshot: Array(good.prefix(n))) }
    }
  }

  private struct Trace: Decodable {
    let endContent: String
    let txns: [Txn]
    struct Txn: Decodable { let patches: [Patch] }
    struct Patch: Decodable {
      let position: Int
      let deleteCount: Int
      let insert: String
      init(from decoder: Decoder) throws {
        var c = try decoder.unkeyedContainer()
        position = try c.decode(Int.self)
        deleteCount = try c.decode(Int.self)
        insert = try c.decode(String.self)
      }
    }
  }

  private func trace(_ name: String) throws -> Trace {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
      "../../Fixtures/editing-traces/\(name).json.gz"
    ).standardizedFileURL.path
    let gunzip = Process()
    gunzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
    gunzip.arguments = ["-dc", path]
    let pipe = Pipe()
    gunzip.standardOutput = pipe
    try gunzip.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    gunzip.waitUntilExit()
    return try JSONDecoder().decode(Trace.self, from: data)
  }

  /// Both editing traces replay to exactly their final text, committing an update after each
  /// edit; so does a replica that applies those updates, one that applies a single diff, and one
  /// loaded from the snapshot (the encode/decode round trip).
  @Test(arguments: ["sveltecomponent", "automerge-paper"])
  func editingTracesReplayToTheirEndContent(name: String) throws {
    let trace = try trace(name)
    let doc = TextDocument(replica: ReplicaID(1))
    var updates: [[UInt8]] = []
    for txn in trace.txns {
      for patch in txn.patches {
        if patch.deleteCount > 0 { doc.delete(at: patch.position, length: patch.deleteCount) }
        if !patch.insert.isEmpty { try doc.insert(patch.insert, at: patch.position) }
      }
      if let update = doc.commit() { updates.append(update) }
    }
    #expect(doc.text == trace.endContent)
    let other = TextDocument(replica: ReplicaID(2))
    for update in updates { try other.apply(update) }
    #expect(other.text == trace.endContent)
    let synced = TextDocument(replica: ReplicaID(3))
    try synced.apply(doc.diff(since: VersionVector()))
    #expect(synced.text == trace.endContent)
    let snapshot = doc.snapshot()
    let loaded = try TextDocument(replica: ReplicaID(4), snapshot: snapshot)
    #expect(loaded.text == trace.endContent)
    let same = [loaded, other, synced].map { $0.snapshot() == snapshot }
    #expect(same == [true, true, true])
  }
}
