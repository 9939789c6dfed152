import CSQLite

// Copies bound values: the Swift buffers they come from do not outlive the bind call.
private let transient = unsafeBitCast(-1 as Int, to: sqlite3_destructor_type.self)

/// One SQLite connection. Not thread-safe: one thread uses it at a time (the store decides which).
final class SQLiteConnection {
  let handle: OpaquePointer
  let path: String

  /// Opens `path` (a file path, or a `file:` URI) with `flags` (`SQLITE_OPEN_*`).
  init(path: String, flags: Int32) throws(RealtimeError) {
    var db: OpaquePointer?
    let rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, nil)
    guard rc == SQLITE_OK, let db else {
      let detail = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
      sqlite3_close_v2(db)
      throw SQLiteConnection.error(rc, "cannot open database '\(path)': \(detail)")
    }
    self.handle = db
    self.path = path
    sqlite3_busy_timeout(db, 5000)
  }

  deinit { sqlite3_close_v2(handle) }

  /// Runs one or more statements that return no rows the caller needs.
  func exec(_ sql: String) throws(RealtimeError) {
    var err: UnsafeMutablePointer<CChar>?
    let rc = sqlite3_exec(handle, sql, nil, nil, &err)
    guard rc == SQLITE_OK else {
      let detail = err.map { String(cString: $0) } ?? lastMessage
      sqlite3_free(err)
      throw SQLiteConnection.error(rc, detail)
    }
  }

  /// Compiles one statement.
  func prepare(_ sql: String) throws(RealtimeError) -> SQLiteStatement {
    var stmt: OpaquePointer?
    let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
    guard rc == SQLITE_OK, let stmt else { throw failure(rc) }
    return SQLiteStatement(stmt, connection: self)
  }

  /// Runs a query that yields one integer (e.g. a PRAGMA); nil when it yields no row.
  func scalar(_ sql: String) throws(RealtimeError) -> Int64? {
    let stmt = try prepare(sql)
    return try stmt.step() ? stmt.int64(0) : nil
  }

  /// Runs a query that yields one text value; nil when it yields no row.
  func text(_ sql: String) throws(RealtimeError) -> String? {
    let stmt = try prepare(sql)
    return try stmt.step() ? stmt.text(0) : nil
  }

  /// Rows changed by the last INSERT/UPDATE/DELETE.
  var changes: Int32 { sqlite3_changes(handle) }

  var lastMessage: String { String(cString: sqlite3_errmsg(handle)) }

  /// An error for result code `rc` carrying SQLite's own message.
  func failure(_ rc: Int32) -> RealtimeError { SQLiteConnection.error(rc, lastMessage) }

  /// Maps a SQLite result code onto the library's error codes.
  static func error(_ rc: Int32, _ message: String) -> RealtimeError {
    let code: ErrorCode =
      switch rc & 0xff {
      case SQLITE_NOTADB, SQLITE_CORRUPT, SQLITE_FORMAT: .corrupt
      case SQLITE_CANTOPEN, SQLITE_IOERR, SQLITE_READONLY, SQLITE_FULL, SQLITE_PERM, SQLITE_AUTH: .io
      case SQLITE_BUSY, SQLITE_LOCKED: .busy
      case SQLITE_NOMEM: .noMemory
      case SQLITE_TOOBIG, SQLITE_RANGE, SQLITE_MISMATCH: .invalidArgument
      default: .internal
      }
    return RealtimeError(code, message)
  }
}

/// A compiled statement, reset and re-bound for each use.
final class SQLiteStatement {
  private let handle: OpaquePointer
  private unowned let connection: SQLiteConnection

  fileprivate init(_ handle: OpaquePointer, connection: SQLiteConnection) {
    self.handle = handle
    self.connection = connection
  }

  deinit { sqlite3_finalize(handle) }

  func bind(_ index: Int32, _ value: Int64) throws(RealtimeError) {
    try check(sqlite3_bind_int64(handle, index, value))
  }

  func bind(_ index: Int32, _ value: String) throws(RealtimeError) {
    try check(sqlite3_bind_text(handle, index, value, -1, transient))
  }

  func bind(_ index: Int32, _ value: [UInt8]) throws(RealtimeError) {
    let rc = value.withUnsafeBytes { bytes in
      // A zero-length blob must still be a blob, not NULL: bind_zeroblob gives that.
      bytes.count == 0
        ? sqlite3_bind_zeroblob(handle, index, 0)
        : sqlite3_bind_blob64(handle, index, bytes.baseAddress, UInt64(bytes.count), transient)
    }
    try check(rc)
  }

  /// Advances; true when a row is available, false when done.
  func step() throws(RealtimeError) -> Bool {
    let rc = sqlite3_step(handle)
    switch rc {
    case SQLITE_ROW: return true
    case SQLITE_DONE: return false
    default: throw connection.failure(rc)
    }
  }

  /// Makes the statement ready to bind and run again.
  func reset() {
    sqlite3_reset(handle)
    sqlite3_clear_bindings(handle)
  }

  func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

  /// Whether a column of the current row is NULL.
  func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

  func bytes(_ column: Int32) -> [UInt8] {
    let count = Int(sqlite3_column_bytes(handle, column))
    guard count > 0, let base = sqlite3_column_blob(handle, column) else { return [] }
    return Array(UnsafeRawBufferPointer(start: base, count: count))
  }

  func text(_ column: Int32) -> String {
    guard let base = sqlite3_column_text(handle, column) else { return "" }
    let count = Int(sqlite3_column_bytes(handle, column))
    return String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self)
  }

  private func check(_ rc: Int32) throws(RealtimeError) {
    guard rc == SQLITE_OK else { throw connection.failure(rc) }
  }
}
