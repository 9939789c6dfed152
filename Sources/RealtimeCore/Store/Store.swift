import Synchronization

/// The database of one core: a validated, migrated SQLite file (or an in-memory database), its
/// writer thread, a reader connection, and the lock that keeps other cores out.
final class Store: @unchecked Sendable {
  let durability: Durability
  /// The writer connection's `PRAGMA synchronous` as SQLite reports it (2 FULL, 1 NORMAL, 0 OFF);
  /// nil in memory, where there is nothing to sync.
  let synchronousLevel: Int64?
  let writer: StoreWriter
  /// This database's random id (16 hex digits), made when the file was created.
  let instance: String
  /// The keys rows are sealed with at rest, and whether the database holds sealed rows.
  let atRest: AtRestKeys
  /// Reads from any thread, one at a time (WAL lets them run beside the writer); nil once closed.
  private var reader: SQLiteConnection?
  private let readerLock: ConditionLock
  /// Outcomes from the writer thread, on their way to the loop thread.
  let outcomes = Inbox<[BatchOutcome]>()
  // Released at shutdown, after every connection to the file is closed: closing any descriptor
  // of a file drops the POSIX locks SQLite holds on it, so the order matters.
  private var lock: FileLock?

  /// Longest accepted database path, in bytes.
  static let maxPathBytes = 4096

  /// Opens the database at `path` (nil: in memory). An existing file is inspected read-only
  /// first and refused, untouched, if it is damaged, foreign or newer.
  init(path: String?, durability: Durability, groupCommit: Bool, keyring: Keyring = Keyring(), log: LogSink)
    throws(RealtimeError)
  {
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
        try Store.inspect(path)
      }
      writerDB = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READWRITE_CREATE)
      try Store.configure(writerDB, durability: durability)
      synchronousLevel = try writerDB.scalar("PRAGMA synchronous")
      try Schema.migrate(writerDB, log: log)
      readerDB = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READONLY_FLAG)
      self.lock = lock
    } else {
      // A named in-memory database that the writer and reader connections share.
      let uri = "file:/realtime-\(Store.memoryCounter.add(1, ordering: .relaxed).newValue)?vfs=memdb"
      writerDB = try SQLiteConnection(path: uri, flags: SQLITE_OPEN_READWRITE_CREATE | SQLITE_OPEN_URI_FLAG)
      try Schema.migrate(writerDB, log: log)
      synchronousLevel = nil
      readerDB = try SQLiteConnection(path: uri, flags: SQLITE_OPEN_READWRITE_CREATE | SQLITE_OPEN_URI_FLAG)
      self.lock = nil
    }
    reader = readerDB
    readerLock = try ConditionLock()
    let instance = try writerDB.text("SELECT value FROM rt_meta WHERE key = 'instance'")
    guard let instance, !instance.isEmpty else {
      throw RealtimeError(.corrupt, "the database has no instance id (rt_meta is damaged)")
    }
    self.instance = instance
    let sealed = try writerDB.scalar("SELECT count(*) FROM rt_meta WHERE key = 'sealed'") ?? 0
    let atRest = AtRestKeys(keyring: keyring, holdsSealedRows: sealed > 0)
    self.atRest = atRest
    let outcomes = self.outcomes
    writer = try StoreWriter(db: writerDB, groupCommit: groupCommit, atRest: atRest, log: log) { results in
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

  /// Checks an existing file without writing anything beside it: when it has no write-ahead log,
  /// SQLite's `immutable` mode reads it with no locks and creates no -wal or -shm files.
  private static func inspect(_ path: String) throws(RealtimeError) {
    let hasWAL = regularFileSize(path + "-wal") != nil
    let probe =
      hasWAL
      ? try SQLiteConnection(path: path, flags: SQLITE_OPEN_READONLY_FLAG)
      : try SQLiteConnection(
        path: "file:\(uriEscaped(path))?immutable=1", flags: SQLITE_OPEN_READONLY_FLAG | SQLITE_OPEN_URI_FLAG)
    try Schema.inspect(probe)
  }

  /// Percent-encodes what a SQLite URI path cannot hold literally.
  private static func uriEscaped(_ path: String) -> String {
    var out = ""
    for byte in path.utf8 {
      switch byte {
      case UInt8(ascii: "%"), UInt8(ascii: "?"), UInt8(ascii: "#"), 0x80...0xff, 0...0x20:
        let hex = Array("0123456789ABCDEF".utf8)
        out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
      default:
        out.unicodeScalars.append(Unicode.Scalar(byte))
      }
    }
    return out
  }

  /// Runs `body` with the reader connection; fails with `.closed` after shutdown. Any thread.
  func read<T>(_ body: (SQLiteConnection) throws(RealtimeError) -> T) throws(RealtimeError) -> T {
    try readerLock.withLock { () throws(RealtimeError) -> T in
      guard let reader else { throw RealtimeError(.closed, "the core is closed") }
      return try body(reader)
    }
  }

  /// Runs `PRAGMA integrity_check`. `ok` is true when the database is sound; `report` holds the
  /// checker's lines, ending with SQLite's error if the damage stopped the check itself.
  func integrityReport() throws(RealtimeError) -> (ok: Bool, report: String) {
    try read { db throws(RealtimeError) in
      var lines: [String] = []
      do throws(RealtimeError) {
        let stmt = try db.prepare("PRAGMA integrity_check")
        while try stmt.step() { lines.append(stmt.text(0)) }
      } catch {
        guard error.code == .corrupt else { throw error }
        lines.append(error.message)
      }
      return (lines == ["ok"], lines.joined(separator: "\n"))
    }
  }

  /// Ends the writer thread after it commits what it has, closes the connections and releases
  /// the file. Called once, by the core's close.
  func shutdown() {
    // The reader first: the last connection to close checkpoints the WAL and removes it, and a
    // read-only connection cannot.
    readerLock.withLock { reader = nil }
    writer.shutdown()
    lock = nil
  }
}
