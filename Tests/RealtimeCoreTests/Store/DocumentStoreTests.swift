import CLibUV
import CSQLite
import Foundation
import Synchronization
import Testing

@testable import RealtimeCore

/// A `Store` on a real file, written the way the engine writes (batches to its writer thread),
/// whose outcomes the test collects itself: the outcome inbox is opened on a loop that never
/// runs and drained after each batch, as `DurableLog.drainAndClose` does. One thread writes at a
/// time; reads may come from any thread.
private final class DocumentStoreHarness: @unchecked Sendable {
  let store: Store
  private let loop: EventLoop
  private let outcomes = Outcomes()
  private var nextBatch: UInt64 = 1
  private var closed = false

  /// Opens (creating or migrating) the database at `path`.
  init(_ path: String, durability: Durability = .full) throws {
    store = try Store(path: path, durability: durability, groupCommit: true, log: LogSink(level: .off, handler: nil))
    loop = try EventLoop.makeOwned()
    let outcomes = self.outcomes
    try store.outcomes.open(loop: loop.raw, keepsLoopAlive: false) { batches in
      for batch in batches {
        for outcome in batch { outcomes.put(outcome) }
      }
    }
  }

  /// Commits `writes` as one batch (one transaction) and returns why it failed; nil: committed.
  @discardableResult
  func write(_ writes: StoreWrite..., sourceLocation: SourceLocation = #_sourceLocation) -> RealtimeError? {
    let id = nextBatch
    nextBatch += 1
    store.writer.submit(WriteBatch(id: id, writes: writes))
    store.writer.waitIdle()
    store.outcomes.drain()
    guard let outcome = outcomes.take(id) else {
      Issue.record("batch \(id) has no outcome", sourceLocation: sourceLocation)
      return RealtimeError(.internal, "no outcome")
    }
    return outcome.error
  }

  /// Ends the writer, closes the connections and releases the file, as a core's close does.
  func close() {
    guard !closed else { return }
    closed = true
    store.outcomes.close()
    // Runs the wake-up handle's close callback, so the loop closes with nothing open.
    uv_run(loop.raw, UV_RUN_DEFAULT)
    store.shutdown()
  }

  deinit { close() }

  /// Outcomes by batch id, each taken once (a list searched per write would make long runs slow).
  private final class Outcomes: Sendable {
    private let byID = Mutex<[UInt64: BatchOutcome]>([:])
    func put(_ outcome: BatchOutcome) { byID.withLock { $0[outcome.id] = outcome } }
    func take(_ id: UInt64) -> BatchOutcome? { byID.withLock { $0.removeValue(forKey: id) } }
  }
}

/// A flag one thread raises and another polls.
private final class StopFlag: Sendable {
  private let raised = Atomic<Bool>(false)
  func raise() { raised.store(true, ordering: .relaxed) }
  var isRaised: Bool { raised.load(ordering: .relaxed) }
}

/// `seq`'s update body in these tests: distinct per seq, so a misordered or misplaced update shows.
private func body(_ seq: Int64) -> [UInt8] { Array("update \(seq)".utf8) }

/// Rows of `rt_doc_updates` in the file, read past the store.
private func storedUpdateRows(_ path: String, doc: String) throws -> Int64? {
  let db = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READONLY)
  let stmt = try db.prepare("SELECT count(*) FROM rt_doc_updates WHERE doc = ?1")
  try stmt.bind(1, doc)
  return try stmt.step() ? stmt.int64(0) : nil
}

/// Persistence of replicated documents: the update log, snapshots and compaction, limits.
@Suite struct DocumentStoreTests {
  @Test func appendedUpdatesLoadInOrder() throws {
    let dir = try TempDir()
    let docs = try DocumentStoreHarness(dir.file("d.db"))
    #expect(try docs.store.loadDocument("notes") == nil)
    #expect(docs.write(.docCreate(id: "notes", kind: 2)) == nil)
    #expect(docs.write(.docAppend(id: "notes", seq: 1, body: body(1))) == nil)
    // An empty update is stored as an empty blob, not lost as NULL.
    #expect(docs.write(.docAppend(id: "notes", seq: 2, body: [])) == nil)
    #expect(docs.write(.docAppend(id: "notes", seq: 3, body: body(3))) == nil)
    let doc = try #require(try docs.store.loadDocument("notes"))
    #expect(doc.id == "notes")
    #expect(doc.kind == 2)
    #expect(doc.snapshot == nil)
    #expect(doc.snapshotSeq == 0)
    #expect(doc.lastSeq == 3)
    #expect(doc.updates.map(\.seq) == [1, 2, 3])
    #expect(doc.updates.map(\.body) == [body(1), [], body(3)])
    #expect(try docs.store.loadDocument("other") == nil)
  }

  @Test func aGapOrDuplicateIsRefusedAndLeavesTheLogUnchanged() throws {
    let dir = try TempDir()
    let docs = try DocumentStoreHarness(dir.file("d.db"))
    #expect(docs.write(.docCreate(id: "d", kind: 1), .docAppend(id: "d", seq: 1, body: body(1))) == nil)
    #expect(docs.write(.docAppend(id: "d", seq: 2, body: body(2))) == nil)
    let before = try docs.store.loadDocument("d")
    for seq: Int64 in [0, 1, 2, 4, -1, .max] {
      let error = docs.write(.docAppend(id: "d", seq: seq, body: [0xEE]))
      #expect(error?.code == .state, "seq \(seq) after 2 must be refused: \(String(describing: error))")
    }
    // A valid update that shares its transaction with a refused one is rolled back with it.
    let error = docs.write(.docAppend(id: "d", seq: 3, body: body(3)), .docAppend(id: "d", seq: 5, body: body(5)))
    #expect(error?.code == .state)
    #expect(try docs.store.loadDocument("d") == before)
    #expect(before?.updates.map(\.seq) == [1, 2])
    #expect(try storedUpdateRows(dir.file("d.db"), doc: "d") == 2)
    // Nothing was consumed by the refusals: 3 is still the next seq.
    #expect(docs.write(.docAppend(id: "d", seq: 3, body: body(3))) == nil)
    #expect(try docs.store.loadDocument("d")?.updates.map(\.seq) == [1, 2, 3])
  }

  @Test func writesToAMissingDocumentAreNotFound() throws {
    let dir = try TempDir()
    let docs = try DocumentStoreHarness(dir.file("d.db"))
    #expect(docs.write(.docAppend(id: "ghost", seq: 1, body: body(1)))?.code == .notFound)
    #expect(docs.write(.docCompact(id: "ghost", snapshot: [1], throughSeq: 0))?.code == .notFound)
    #expect(docs.write(.docDelete(id: "ghost")) == nil, "deleting what is not there is not an error")
    #expect(try docs.store.loadDocument("ghost") == nil)
    #expect(try storedUpdateRows(dir.file("d.db"), doc: "ghost") == 0)
  }

  @Test func creatingAgainKeepsTheDocumentAndAnotherKindIsRefused() throws {
    let dir = try TempDir()
    let docs = try DocumentStoreHarness(dir.file("d.db"))
    #expect(docs.write(.docCreate(id: "k", kind: 7), .docAppend(id: "k", seq: 1, body: body(1))) == nil)
    #expect(docs.write(.docCreate(id: "k", kind: 7)) == nil, "creating an existing document is a no-op")
    #expect(docs.write(.docCreate(id: "k", kind: 8))?.code == .invalidArgument)
    let doc = try #require(try docs.store.loadDocument("k"))
    #expect(doc.kind == 7)
    #expect(doc.updates.map(\.seq) == [1], "a repeated create must not reset the log")
  }

  @Test func compactingThroughTwoLeavesTheSnapshotAndUpdateThree() throws {
    let dir = try TempDir()
    let path = dir.file("d.db")
    let docs = try DocumentStoreHarness(path)
    #expect(docs.write(.docCreate(id: "t", kind: 1)) == nil)
    for seq: Int64 in 1...3 { #expect(docs.write(.docAppend(id: "t", seq: seq, body: body(seq))) == nil) }
    #expect(docs.write(.docCompact(id: "t", snapshot: [0x51, 0x52], throughSeq: 2)) == nil)
    let doc = try #require(try docs.store.loadDocument("t"))
    #expect(doc.snapshot == [0x51, 0x52])
    #expect(doc.snapshotSeq == 2)
    #expect(doc.lastSeq == 3)
    #expect(doc.updates == [DocumentUpdate(seq: 3, body: body(3))])
    #expect(try storedUpdateRows(path, doc: "t") == 1, "compacted updates must be deleted, not just skipped")
    // The log goes on after a compaction.
    #expect(docs.write(.docAppend(id: "t", seq: 4, body: body(4))) == nil)
    #expect(try docs.store.loadDocument("t")?.updates.map(\.seq) == [3, 4])
    // Compacting everything leaves an empty tail; an empty snapshot is a snapshot, not none.
    #expect(docs.write(.docCompact(id: "t", snapshot: [], throughSeq: 4)) == nil)
    let all = try #require(try docs.store.loadDocument("t"))
    #expect(all.snapshot == [])
    #expect(all.snapshotSeq == 4)
    #expect(all.updates.isEmpty)
    #expect(try storedUpdateRows(path, doc: "t") == 0)
  }

  @Test func compactionOutsideTheLogIsRefusedAndChangesNothing() throws {
    let dir = try TempDir()
    let path = dir.file("d.db")
    let docs = try DocumentStoreHarness(path)
    #expect(docs.write(.docCreate(id: "c", kind: 1)) == nil)
    for seq: Int64 in 1...3 { #expect(docs.write(.docAppend(id: "c", seq: seq, body: body(seq))) == nil) }
    #expect(docs.write(.docCompact(id: "c", snapshot: [2], throughSeq: 2)) == nil)
    let before = try docs.store.loadDocument("c")
    #expect(docs.write(.docCompact(id: "c", snapshot: [4], throughSeq: 4))?.code == .state, "beyond the last seq")
    #expect(docs.write(.docCompact(id: "c", snapshot: [1], throughSeq: 1))?.code == .state, "behind the snapshot")
    #expect(docs.write(.docCompact(id: "c", snapshot: [0], throughSeq: -1))?.code == .state)
    #expect(try docs.store.loadDocument("c") == before)
    // A compaction is rolled back with the rest of its transaction, deleted updates included.
    let error = docs.write(
      .docCompact(id: "c", snapshot: [3], throughSeq: 3), .docAppend(id: "c", seq: 9, body: body(9)))
    #expect(error?.code == .state)
    #expect(try docs.store.loadDocument("c") == before)
    #expect(try storedUpdateRows(path, doc: "c") == 1)
    // Taking the snapshot again at the same seq replaces it.
    #expect(docs.write(.docCompact(id: "c", snapshot: [22], throughSeq: 2)) == nil)
    #expect(try docs.store.loadDocument("c")?.snapshot == [22])
  }

  @Test func aReopenedStoreLoadsTheSameDocumentAndContinuesItsLog() throws {
    let dir = try TempDir()
    let path = dir.file("d.db")
    let saved: StoredDocument
    do {
      let docs = try DocumentStoreHarness(path)
      #expect(docs.write(.docCreate(id: "r", kind: 3)) == nil)
      for seq: Int64 in 1...3 { #expect(docs.write(.docAppend(id: "r", seq: seq, body: body(seq))) == nil) }
      #expect(docs.write(.docCompact(id: "r", snapshot: [9, 9], throughSeq: 2)) == nil)
      saved = try #require(try docs.store.loadDocument("r"))
      docs.close()
    }
    let docs = try DocumentStoreHarness(path)
    let loaded = try docs.store.loadDocument("r")
    #expect(loaded == saved)
    #expect(loaded?.snapshot == [9, 9])
    #expect(loaded?.updates == [DocumentUpdate(seq: 3, body: body(3))])
    #expect(docs.write(.docAppend(id: "r", seq: 3, body: body(3)))?.code == .state, "seqs survive the reopen")
    #expect(docs.write(.docAppend(id: "r", seq: 4, body: body(4))) == nil)
  }

  @Test func aVersion4DatabaseIsUpgradedAndKeepsItsData() throws {
    let dir = try TempDir()
    let path = dir.file("v4.db")
    do {
      // What a library with the first four migrations left behind.
      let db = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
      try db.exec("PRAGMA journal_mode = WAL")
      for sql in Schema.migrations.prefix(4) { try db.exec(sql) }
      try db.exec("PRAGMA user_version = 4; PRAGMA application_id = \(Schema.applicationID)")
      try db.exec("INSERT INTO rt_last_seen(user, time) VALUES ('ann', 42)")
      #expect(try db.scalar("SELECT count(*) FROM sqlite_master WHERE name LIKE 'rt_doc%'") == 0)
    }
    let docs = try DocumentStoreHarness(path)
    #expect(docs.write(.docCreate(id: "new", kind: 1), .docAppend(id: "new", seq: 1, body: body(1))) == nil)
    #expect(try docs.store.loadDocument("new")?.updates.map(\.seq) == [1])
    docs.close()
    let db = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READONLY)
    #expect(Schema.latest >= 5)
    #expect(try db.scalar("PRAGMA user_version") == Schema.latest)
    #expect(try db.scalar("SELECT time FROM rt_last_seen WHERE user = 'ann'") == 42)
    #expect(try db.scalar("SELECT count(*) FROM sqlite_master WHERE name IN ('rt_docs', 'rt_doc_updates')") == 2)
  }

  @Test func badIDsAndOversizedBodiesAreRefused() throws {
    let dir = try TempDir()
    let docs = try DocumentStoreHarness(dir.file("d.db"))
    let longest = String(repeating: "é", count: 128)  // 256 bytes of UTF-8
    let bad = ["", String(repeating: "é", count: 128) + "x", String(repeating: "a", count: 257), "a\0b", "\0"]
    for id in bad {
      #expect(throws: RealtimeError.self) { try docs.store.loadDocument(id) }
      do {
        _ = try docs.store.loadDocument(id)
      } catch {
        #expect(error.code == .invalidArgument)
      }
      #expect(docs.write(.docCreate(id: id, kind: 1))?.code == .invalidArgument, "id of \(id.utf8.count) bytes")
      #expect(docs.write(.docDelete(id: id))?.code == .invalidArgument)
    }
    // A NUL would have cut "a\0b" down to "a" had it reached SQLite.
    #expect(try docs.store.documentIDs(limit: 100) == [])
    #expect(throws: RealtimeError.self) { try docs.store.documentIDs(after: "a\0", limit: 10) }
    #expect(throws: RealtimeError.self) { try docs.store.documentIDs(limit: 0) }

    #expect(docs.write(.docCreate(id: longest, kind: 1)) == nil)
    let limit = DocumentLimits.maxUpdateBytes
    let tooBig = docs.write(.docAppend(id: longest, seq: 1, body: [UInt8](repeating: 1, count: limit + 1)))
    #expect(tooBig?.code == .tooLarge)
    #expect(docs.write(.docAppend(id: longest, seq: 1, body: [UInt8](repeating: 1, count: limit))) == nil)
    let doc = try #require(try docs.store.loadDocument(longest))
    #expect(doc.updates.map(\.body.count) == [limit])
    #expect(try docs.store.documentIDs(limit: 100) == [longest])
  }

  @Test func deletingADocumentRemovesItsSnapshotAndLog() throws {
    let dir = try TempDir()
    let path = dir.file("d.db")
    let docs = try DocumentStoreHarness(path)
    #expect(docs.write(.docCreate(id: "gone", kind: 1), .docCreate(id: "kept", kind: 1)) == nil)
    for seq: Int64 in 1...3 {
      #expect(docs.write(.docAppend(id: "gone", seq: seq, body: body(seq))) == nil)
      #expect(docs.write(.docAppend(id: "kept", seq: seq, body: body(seq))) == nil)
    }
    #expect(docs.write(.docCompact(id: "gone", snapshot: [1], throughSeq: 1)) == nil)
    #expect(docs.write(.docDelete(id: "gone")) == nil)
    #expect(try docs.store.loadDocument("gone") == nil)
    #expect(try storedUpdateRows(path, doc: "gone") == 0)
    #expect(try docs.store.loadDocument("kept")?.updates.map(\.seq) == [1, 2, 3])
    // A new document under the same id starts a new log.
    #expect(docs.write(.docCreate(id: "gone", kind: 2), .docAppend(id: "gone", seq: 1, body: body(1))) == nil)
    let fresh = try #require(try docs.store.loadDocument("gone"))
    #expect(fresh.kind == 2)
    #expect(fresh.snapshot == nil)
    #expect(fresh.updates.map(\.seq) == [1])
  }

  @Test func documentIDsArePagedInByteOrder() throws {
    let dir = try TempDir()
    let docs = try DocumentStoreHarness(dir.file("d.db"))
    #expect(
      docs.write(
        .docCreate(id: "b", kind: 1), .docCreate(id: "é", kind: 1), .docCreate(id: "a", kind: 1),
        .docCreate(id: "c", kind: 1)) == nil)
    #expect(try docs.store.documentIDs(limit: 10) == ["a", "b", "c", "é"])
    #expect(try docs.store.documentIDs(limit: 2) == ["a", "b"])
    #expect(try docs.store.documentIDs(after: "b", limit: 2) == ["c", "é"])
    #expect(try docs.store.documentIDs(after: "é", limit: 2) == [])
  }

  @Test func aLogWithAHoleIsReportedAsCorrupt() throws {
    let dir = try TempDir()
    let path = dir.file("d.db")
    do {
      let docs = try DocumentStoreHarness(path)
      #expect(docs.write(.docCreate(id: "h", kind: 1)) == nil)
      for seq: Int64 in 1...3 { #expect(docs.write(.docAppend(id: "h", seq: seq, body: body(seq))) == nil) }
      docs.close()
    }
    do {
      let db = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READWRITE)
      try db.exec("DELETE FROM rt_doc_updates WHERE doc = 'h' AND seq = 2")
    }
    let docs = try DocumentStoreHarness(path)
    #expect {
      try docs.store.loadDocument("h")
    } throws: { error in
      (error as? RealtimeError)?.code == .corrupt
    }
  }

  @Test func loadsRacingCompactionsAlwaysSeeOneConsistentState() throws {
    let dir = try TempDir()
    // Durability off: this is about the reader's view, not fsync, and it wants many commits.
    let docs = try DocumentStoreHarness(dir.file("d.db"), durability: .off)
    #expect(docs.write(.docCreate(id: "x", kind: 1)) == nil)
    let finished = DispatchSemaphore(value: 0)
    let stop = StopFlag()
    let writeErrors = Collector<RealtimeError>()
    DispatchQueue.global().async {
      var seq: Int64 = 0
      while !stop.isRaised && seq < 20_000 {
        seq += 1
        if let error = docs.write(.docAppend(id: "x", seq: seq, body: body(seq))) { writeErrors.add(error) }
        // The snapshot names the seq it covers, so a snapshot paired with another seq shows.
        if seq % 3 == 0, let error = docs.write(.docCompact(id: "x", snapshot: body(seq - 1), throughSeq: seq - 1)) {
          writeErrors.add(error)
        }
      }
      finished.signal()
    }
    var loads = 0
    let clock = ContinuousClock()
    let start = clock.now
    defer {
      stop.raise()
      finished.wait()
    }
    while clock.now - start < .milliseconds(1500) {
      // loadDocument itself refuses a tail that does not run from the snapshot to the last seq.
      let doc = try #require(try docs.store.loadDocument("x"))
      if doc.snapshotSeq > 0 { #expect(doc.snapshot == body(doc.snapshotSeq)) }
      #expect(doc.updates.map(\.body) == doc.updates.map { body($0.seq) })
      loads += 1
    }
    #expect(loads > 100)
    #expect(writeErrors.all.isEmpty)
  }
}
