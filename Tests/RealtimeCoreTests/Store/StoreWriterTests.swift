import CSQLite
import Foundation
import Testing

@testable import RealtimeCore

@Suite struct StoreWriterTests {
  /// A writer over a fresh migrated file, with outcomes collected.
  private func makeWriter(_ dir: TempDir, groupCommit: Bool = true)
    throws -> (StoreWriter, Collector<BatchOutcome>, String)
  {
    let path = dir.file("w.db")
    let db = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
    try db.exec("PRAGMA journal_mode = WAL")
    try Schema.migrate(db, log: LogSink(level: .off, handler: nil))
    try db.exec("INSERT INTO rt_streams(id, name) VALUES (1, 's')")
    let outcomes = Collector<BatchOutcome>()
    let writer = try StoreWriter(db: db, groupCommit: groupCommit, log: LogSink(level: .off, handler: nil)) {
      for o in $0 { outcomes.add(o) }
    }
    return (writer, outcomes, path)
  }

  private func count(_ path: String) throws -> Int64? {
    try SQLiteConnection(path: path, flags: SQLITE_OPEN_READONLY).scalar("SELECT count(*) FROM rt_log")
  }

  @Test func anAppendThatWouldLeaveAGapIsRefusedWithItsWholeTransaction() throws {
    let dir = try TempDir()
    let (writer, outcomes, path) = try makeWriter(dir)
    writer.submit(WriteBatch(id: 1, writes: [.append(streamID: 1, seq: 1, payload: [1])]))
    writer.waitIdle()
    // Batch 2 is fine on its own but shares a transaction with batch 3's gap when both queue up.
    writer.submit(WriteBatch(id: 2, writes: [.append(streamID: 1, seq: 2, payload: [2])]))
    writer.submit(WriteBatch(id: 3, writes: [.append(streamID: 1, seq: 9, payload: [9])]))
    writer.waitIdle()
    writer.shutdown()
    let byID = Dictionary(outcomes.all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    #expect(byID[1]?.error == nil)
    #expect(byID[3]?.error != nil, "a gap must be refused")
    let stored = try count(path)
    // Batch 2 either committed alone (then 2 rows) or was rolled back with batch 3 (then 1 row
    // and an error) — never stored without being acknowledged.
    if byID[2]?.error == nil { #expect(stored == 2) } else { #expect(stored == 1) }
  }

  @Test func duplicatesAreRefused() throws {
    let dir = try TempDir()
    let (writer, outcomes, path) = try makeWriter(dir)
    writer.submit(WriteBatch(id: 1, writes: [.append(streamID: 1, seq: 1, payload: [1])]))
    writer.waitIdle()
    writer.submit(WriteBatch(id: 2, writes: [.append(streamID: 1, seq: 1, payload: [1])]))
    writer.waitIdle()
    writer.shutdown()
    #expect(outcomes.all.map { $0.error == nil } == [true, false])
    #expect(try count(path) == 1)
  }

  @Test func withoutGroupCommitEveryWriteIsItsOwnTransaction() throws {
    let dir = try TempDir()
    let (writer, _, path) = try makeWriter(dir, groupCommit: false)
    writer.submit(WriteBatch(id: 1, writes: (1...20).map { .append(streamID: 1, seq: $0, payload: []) }))
    writer.waitIdle()
    writer.shutdown()
    #expect(writer.committedTransactions.load(ordering: .relaxed) == 20)
    #expect(try count(path) == 20)
  }
}
