/// The database schema: its identity (`application_id`), its version (`user_version`) and the
/// migrations that bring an older file up to date. Migrations are append-only: a shipped one
/// never changes, a new one is added at the end.
enum Schema {
  /// "RTC1": marks a file as a RealtimeCore database, so foreign databases are never touched.
  static let applicationID: Int32 = 0x5254_4331

  /// Migration `i` takes the schema from version `i` to `i + 1`.
  static let migrations: [String] = [
    // 1: durable ordered logs, one per named stream, with gapless sequence numbers from 1.
    """
    CREATE TABLE rt_streams (
      id   INTEGER PRIMARY KEY,
      name TEXT NOT NULL UNIQUE
    );
    CREATE TABLE rt_log (
      stream_id INTEGER NOT NULL REFERENCES rt_streams(id),
      seq       INTEGER NOT NULL,
      payload   BLOB NOT NULL,
      PRIMARY KEY (stream_id, seq)
    ) WITHOUT ROWID;
    """,
    // 2: channels. A random id for this database, which becomes the epoch of its persistent
    // channels (a replaced database must not pass for the old one), and each entry's time, so
    // history can be trimmed by age.
    """
    CREATE TABLE rt_meta (
      key   TEXT PRIMARY KEY,
      value ANY NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO rt_meta(key, value) VALUES ('instance', lower(hex(randomblob(8))));
    ALTER TABLE rt_log ADD COLUMN time INTEGER NOT NULL DEFAULT 0;
    """,
    // 3: receipts: per user, channel and device, the newest offset delivered and read, in the
    // channel's epoch at the time (a cursor of another epoch counts as nothing read).
    """
    CREATE TABLE rt_receipts (
      user      TEXT NOT NULL,
      channel   TEXT NOT NULL,
      device    TEXT NOT NULL,
      epoch     TEXT NOT NULL,
      delivered INTEGER NOT NULL,
      read      INTEGER NOT NULL,
      PRIMARY KEY (user, channel, device)
    ) WITHOUT ROWID;
    """,
    // 4: last seen: per user, when their last session ended (ms since 1970).
    """
    CREATE TABLE rt_last_seen (
      user TEXT PRIMARY KEY,
      time INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
    // 5: replicated documents (text, task lists, files), opaque to the store. A document is its
    // newest snapshot, which covers updates 1...snapshot_seq, plus the log of the updates after
    // it; last_seq is kept on the row (not max(seq) of the log) because compaction empties the
    // log. Every row of rt_doc_updates has snapshot_seq < seq <= last_seq of its document.
    """
    CREATE TABLE rt_docs (
      id           TEXT PRIMARY KEY,
      kind         INTEGER NOT NULL,
      snapshot     BLOB,
      snapshot_seq INTEGER NOT NULL DEFAULT 0,
      last_seq     INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE TABLE rt_doc_updates (
      doc  TEXT NOT NULL REFERENCES rt_docs(id),
      seq  INTEGER NOT NULL,
      body BLOB NOT NULL,
      PRIMARY KEY (doc, seq)
    ) WITHOUT ROWID;
    """,
    // 6: the chunks of binary files, by their BLAKE2b-256 hash: each stored once however many
    // files and versions hold it. A rowid table with an index on the hash, not WITHOUT ROWID:
    // with 2-64 KiB rows in the key's b-tree, a leaf held a few rows, the existence checks of a
    // large file missed the page cache on almost every lookup, and random hashes scattered the
    // inserts; the index alone answers "is it here" and new rows are appended.
    // stored_at (ms since 1970) spares recent chunks from collection: a client uploads a
    // version's chunks before the version that references them.
    """
    CREATE TABLE rt_chunks (
      hash      BLOB NOT NULL UNIQUE,
      data      BLOB NOT NULL,
      stored_at INTEGER NOT NULL DEFAULT 0
    );
    """,
    // 7: authorization. Workspace memberships (a role per workspace and user: 1 guest, 2 member,
    // 3 admin, 4 owner; "none" is the absence of a row) and per-name rules (the least role an
    // action on one channel or document needs, overriding its scoped namespace's). Loaded into
    // memory when the core opens: access checks never read SQLite.
    """
    CREATE TABLE rt_members (
      workspace TEXT NOT NULL,
      user      TEXT NOT NULL,
      role      INTEGER NOT NULL CHECK (role BETWEEN 1 AND 4),
      PRIMARY KEY (workspace, user)
    ) WITHOUT ROWID;
    CREATE TABLE rt_access_rules (
      name     TEXT NOT NULL,
      action   INTEGER NOT NULL CHECK (action BETWEEN 0 AND 5),
      min_role INTEGER NOT NULL CHECK (min_role BETWEEN 0 AND 4),
      PRIMARY KEY (name, action)
    ) WITHOUT ROWID;
    """,
    // 8: sessions (refresh-token families, one per user and device login) and the devices of
    // each user. Times in seconds since 1970, as in tokens. refresh_jti is the one refresh token
    // of the family that may still be used: presenting another (rotated) one revokes the family.
    // The TTLs are kept so a rotation issues tokens as the start did.
    """
    CREATE TABLE rt_sessions (
      id             TEXT PRIMARY KEY,
      user           TEXT NOT NULL,
      device         TEXT NOT NULL,
      scope          TEXT NOT NULL,
      created        INTEGER NOT NULL,
      refreshed      INTEGER NOT NULL,
      refresh_jti    TEXT NOT NULL,
      access_ttl     INTEGER NOT NULL,
      refresh_ttl    INTEGER NOT NULL,
      expires        INTEGER NOT NULL,
      revoked_at     INTEGER,
      revoked_reason TEXT
    ) WITHOUT ROWID;
    CREATE INDEX rt_sessions_expires ON rt_sessions(expires);
    CREATE TABLE rt_devices (
      user       TEXT NOT NULL,
      device     TEXT NOT NULL,
      first_seen INTEGER NOT NULL,
      last_seen  INTEGER NOT NULL,
      name       TEXT,
      PRIMARY KEY (user, device)
    ) WITHOUT ROWID;
    """,
    // 9: payloads sealed at rest. key_id says how a row's payload is stored, since a plaintext
    // payload can start with any byte: 0 plaintext (written before sealing was on, or without
    // keys), -1 end-to-end (sealed by the client; stored and returned as it came), otherwise the
    // master key id that sealed it (AtRest). rt_meta 'sealed' = 1 once any row is sealed, so a
    // core opened without keys refuses to mix plaintext in.
    """
    ALTER TABLE rt_log ADD COLUMN key_id INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rt_doc_updates ADD COLUMN key_id INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rt_docs ADD COLUMN snapshot_key_id INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rt_chunks ADD COLUMN key_id INTEGER NOT NULL DEFAULT 0;
    """,
  ]

  /// The version this library writes.
  static var latest: Int64 { Int64(migrations.count) }

  /// Checks, without writing anything, that `db` is empty or a RealtimeCore database this
  /// library can use. Reading the schema also makes SQLite validate the file header.
  static func inspect(_ db: SQLiteConnection) throws(RealtimeError) {
    let objects = try db.scalar("SELECT count(*) FROM sqlite_master") ?? 0
    let appID = try db.scalar("PRAGMA application_id") ?? 0
    let version = try db.scalar("PRAGMA user_version") ?? 0
    if appID != 0 && appID != Int64(applicationID) {
      throw RealtimeError(
        .schema,
        "'\(db.path)' belongs to another application (application_id \(appID)); refusing to modify it")
    }
    if appID == 0 && objects > 0 {
      throw RealtimeError(
        .schema,
        "'\(db.path)' is a SQLite database of another application (it has tables but no RealtimeCore id); refusing to modify it"
      )
    }
    if version > latest {
      throw RealtimeError(
        .schema,
        "'\(db.path)' has schema version \(version), newer than this library's \(latest); upgrade the library to open it"
      )
    }
  }

  /// Applies every migration the file lacks, each in its own transaction.
  static func migrate(_ db: SQLiteConnection, log: LogSink) throws(RealtimeError) {
    try inspect(db)
    var version = try db.scalar("PRAGMA user_version") ?? 0
    while version < latest {
      let next = version + 1
      try db.exec("BEGIN IMMEDIATE")
      do {
        try db.exec(migrations[Int(version)])
        try db.exec("PRAGMA user_version = \(next); PRAGMA application_id = \(applicationID)")
        try db.exec("COMMIT")
      } catch {
        try? db.exec("ROLLBACK")
        throw RealtimeError(error.code, "migration to schema version \(next) failed: \(error.message)")
      }
      log(.info, "database '\(db.path)' migrated to schema version \(next)")
      version = next
    }
  }
}
