import Synchronization

/// The database of one core: a validated, migrated SQLite file (or an in-memory database), its
/// writer thread, a reader connection, and the lock that keeps other cores out.
final class Store: @unchecked Sendable {
  let durability: Durability
  let writer: StoreWriter
  /// Reads from any thread, one at a time (WAL lets them run beside the writer).
  let reader: Mutex<SQLiteConnection>
  /// Outcomes from the writer thread, on their way to the loop thread.
  let outcomes = Inbox<[BatchOutcome]>()
  private let lock: FileLock?

  /// Longest accepted database path, in bytes.
  static let maxPathBytes = 4096

  /// Opens the database at `path` (nil: in memory). An existing file is inspected read-only
  /// first and refused, untouched, if it is damaged, foreign or newer.
  init(path: String?, durability: Durability, groupCommit: Bool, log: LogSink) throws(RealtimeError) {
    self.durability = durability
    let writerDB: SQLiteConnection
    let readerDB: SQLiteConnection
    if let path {
      guard !path.isEmpty, path.utf8.count <= Store.maxPathBytes else {
        throw RealtimeError(.invalidArgument, "database path must be 1 to \(Store.maxPathBytes) bytes")
      }
      if path == ":memory:" {
        throw RealtimeError(.invalidArgument, "database path ':memory:' is reserved; pass NULL for an in-memory core")
      }
      let lock = try FileLock(path: path)
      if let size = regularFileSize(path), size > 0 {
        let probe = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READONLY_FLAG)
        try Schema.inspect(probe)
      }
      writerDB = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READWRITE_CREATE)
      try Store.configure(writerDB, durability: durability)
      try Schema.migrate(writerDB, log: log)
      readerDB = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READONLY_FLAG)
      self.lock = lock
    } else {
      // A named in-memory database that the writer and reader connections share.
      let uri = "file:/realtime-\(Store.memoryCounter.add(1, ordering: .relaxed).newValue)?vfs=memdb"
      writerDB = try SQLiteConnection(path: uri, flags: SQLITE_OPEN_READWRITE_CREATE | SQLITE_OPEN_URI_FLAG)
      try Schema.migrate(writerDB, log: log)
      readerDB = try SQLiteConnection(path: uri, flags: SQLITE_OPEN_READWRITE_CREATE | SQLITE_OPEN_URI_FLAG)
      self.lock = nil
    }
    reader = Mutex(readerDB)
    let outcomes = self.outcomes
    writer = try StoreWriter(db: writerDB, groupCommit: groupCommit, log: log) { results in
      if !outcomes.post(results) {
        log(.error, "store outcomes arrived while the loop was stopped; \(results.count) batches unreported")
      }
    }
  }

  private static let memoryCounter = Atomic<UInt64>(0)

  private static func configure(_ db: SQLiteConnection, durability: Durability) throws(RealtimeError) {
    try db.exec("PRAGMA journal_mode = WAL")
    try db.exec("PRAGMA synchronous = \(durability.synchronousPragma)")
    try db.exec("PRAGMA foreign_keys = ON")
    if try db.scalar("PRAGMA query_only") == 1 || sqlite3ReadOnly(db) {
      throw RealtimeError(.io, "database '\(db.path)' is read-only")
    }
  }

  /// Runs `PRAGMA integrity_check`; returns its report ("ok" when sound).
  func integrityReport() throws(RealtimeError) -> String {
    try reader.withLock { db throws(RealtimeError) -> String in
      let stmt = try db.prepare("PRAGMA integrity_check")
      var lines: [String] = []
      while try stmt.step() { lines.append(stmt.text(0)) }
      return lines.joined(separator: "\n")
    }
  }

  /// Ends the writer thread after it commits what it has.
  func shutdown() { writer.shutdown() }
}
