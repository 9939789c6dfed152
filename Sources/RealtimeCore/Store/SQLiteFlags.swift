import CSQLite

// The open flags the store uses, named once.
let SQLITE_OPEN_READONLY_FLAG = SQLITE_OPEN_READONLY
let SQLITE_OPEN_READWRITE_CREATE = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
let SQLITE_OPEN_URI_FLAG = SQLITE_OPEN_URI

/// Whether SQLite opened the main database read-only (e.g. the file's permissions forbid writes).
func sqlite3ReadOnly(_ db: SQLiteConnection) -> Bool { sqlite3_db_readonly(db.handle, "main") == 1 }
