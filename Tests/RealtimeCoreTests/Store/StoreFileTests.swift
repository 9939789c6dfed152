import CSQLite
import Foundation
import Testing

@testable import RealtimeCore

/// Opening databases: new, existing, damaged, foreign, newer, unusable paths.
@Suite struct StoreFileTests {
  private func open(_ path: String?) throws(RealtimeError) -> Core {
    try Core(config: CoreConfig(databasePath: path))
  }

  private func expectRefusal(_ code: ErrorCode, _ path: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let before = contents(path)
    #expect(throws: RealtimeError.self, sourceLocation: sourceLocation) { try open(path) }
    do {
      _ = try open(path)
    } catch {
      #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
      #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
    }
    #expect(
      contents(path) == before, "a refused file must stay byte-for-byte as it was", sourceLocation: sourceLocation)
    #expect(!FileManager.default.fileExists(atPath: path + "-wal"), sourceLocation: sourceLocation)
  }

  @Test func newFileIsMarkedMigratedAndInWALMode() throws {
    let dir = try TempDir()
    let path = dir.file("new.db")
    try open(path).close()
    let db = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READONLY)
    #expect(try db.scalar("PRAGMA application_id") == Int64(Schema.applicationID))
    #expect(try db.scalar("PRAGMA user_version") == Schema.latest)
    let mode = try db.prepare("PRAGMA journal_mode")
    #expect(try mode.step())
    #expect(mode.text(0) == "wal")
  }

  @Test func reopeningKeepsDataAndDoesNotMigrateAgain() throws {
    let dir = try TempDir()
    let path = dir.file("re.db")
    do {
      let core = try open(path)
      try core.start()
      #expect(try appendAndWait(core, "s", [1]).get() == 1)
      try core.close()
    }
    let core = try open(path)
    try core.start()
    #expect(try appendAndWait(core, "s", [2]).get() == 2, "seqs continue after a reopen")
    #expect(try core.read(stream: "s", after: 0, limit: 10).map(\.payload) == [[1], [2]])
    try core.close()
  }

  @Test func garbageFileIsRefusedAsCorruptAndLeftAlone() throws {
    let dir = try TempDir()
    let path = dir.file("garbage.db")
    try Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }).write(to: URL(fileURLWithPath: path))
    expectRefusal(.corrupt, path)
  }

  @Test func validHeaderWithDamagedPagesIsRefused() throws {
    let dir = try TempDir()
    let path = dir.file("damaged.db")
    var bytes = Array("SQLite format 3\0".utf8)
    bytes += [0x10, 0x00, 0x01, 0x01, 0x00, 0x40, 0x20, 0x20]  // page size 4096, plausible fields
    bytes += [UInt8](repeating: 0xAB, count: 8192 - bytes.count)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let before = contents(path)
    do {
      _ = try open(path)
      Issue.record("a damaged file must be refused")
    } catch {
      #expect(error.code == .corrupt || error.code == .io, "\(error)")
    }
    #expect(contents(path) == before)
  }

  @Test func newerSchemaIsRefusedAndLeftAlone() throws {
    let dir = try TempDir()
    let path = dir.file("newer.db")
    try open(path).close()
    do {
      let db = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READWRITE)
      try db.exec("PRAGMA user_version = \(Schema.latest + 1)")
    }
    expectRefusal(.schema, path)
  }

  @Test func anotherApplicationsDatabaseIsRefusedAndLeftAlone() throws {
    let dir = try TempDir()
    let path = dir.file("foreign.db")
    do {
      let db = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
      try db.exec("CREATE TABLE invoices(id INTEGER PRIMARY KEY, total REAL)")
    }
    expectRefusal(.schema, path)
    do {
      let db = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READWRITE)
      try db.exec("PRAGMA application_id = 1234")
    }
    expectRefusal(.schema, path)
  }

  @Test func unusablePathsAreIOErrors() throws {
    let dir = try TempDir()
    for path in [dir.path, dir.file("missing/dir/x.db")] {
      #expect {
        _ = try open(path)
      } throws: { error in
        (error as? RealtimeError)?.code == .io
      }
    }
    #expect(throws: RealtimeError.self) { _ = try open("") }
    #expect(throws: RealtimeError.self) { _ = try open(":memory:") }
  }

  @Test func aSecondCoreOnTheSameFileIsBusy() throws {
    let dir = try TempDir()
    let path = dir.file("shared.db")
    let first = try open(path)
    #expect {
      _ = try open(path)
    } throws: { error in
      (error as? RealtimeError)?.code == .busy
    }
    try first.close()
    try open(path).close()  // free again once the first core closed
  }

  @Test func integrityReportIsOkOnASoundDatabase() throws {
    let dir = try TempDir()
    let core = try open(dir.file("ok.db"))
    #expect(try core.integrityCheck().ok)
    try core.close()
  }
}

@Suite struct DurabilitySettingTests {
  @Test(arguments: [(Durability.full, Int64(2)), (.normal, 1), (.off, 0)])
  func eachDurabilitySetsSQLiteSynchronous(durability: Durability, expected: Int64) throws {
    let dir = try TempDir()
    let core = try Core(config: CoreConfig(databasePath: dir.file("d.db"), durability: durability))
    #expect(core.store.synchronousLevel == expected)
    try core.close()
  }
}
