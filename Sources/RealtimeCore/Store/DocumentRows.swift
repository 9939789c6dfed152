/// One update in a document's log: an opaque CRDT delta, numbered from 1 without gaps.
struct DocumentUpdate: Sendable, Equatable {
  let seq: Int64
  let body: [UInt8]
}

/// A replicated document as the store holds it: the newest snapshot plus the updates after it.
/// Loading one means applying `updates` in order on top of `snapshot` (or on an empty document
/// when there is none).
struct StoredDocument: Sendable, Equatable {
  let id: String
  /// What the document is (text, task list, file…); the store only keeps it.
  let kind: Int
  /// The state after updates `1...snapshotSeq`; nil until the first compaction.
  let snapshot: [UInt8]?
  /// The last update folded into `snapshot` (0 with none).
  let snapshotSeq: Int64
  /// The newest update's seq; the next append must be `lastSeq + 1`.
  let lastSeq: Int64
  /// Updates `snapshotSeq + 1 ... lastSeq`, oldest first.
  let updates: [DocumentUpdate]
}

/// What the store accepts for documents. Checked where a value enters (`loadDocument`, the
/// writer's document writes), so a bad id or an oversized body is refused with a clear error
/// instead of reaching SQLite.
enum DocumentLimits {
  /// Longest document id, in bytes of UTF-8.
  static let maxIDBytes = 256
  /// Largest update, in bytes (the same bound as a log entry).
  static let maxUpdateBytes = 16 << 20
  /// Largest snapshot, in bytes. Generous, because a document whose snapshot no longer fits can
  /// never be compacted again; well below SQLite's 1 GB value limit.
  static let maxSnapshotBytes = 256 << 20

  /// Refuses an id that is empty, longer than `maxIDBytes`, or holds a NUL (ids are bound as C
  /// strings, so a NUL would silently cut them short).
  static func check(id: String) throws(RealtimeError) {
    let count = id.utf8.count
    guard count >= 1, count <= maxIDBytes else {
      throw RealtimeError(
        .invalidArgument, "document id must be 1 to \(maxIDBytes) bytes of UTF-8; this one has \(count)")
    }
    guard !id.utf8.contains(0) else {
      throw RealtimeError(.invalidArgument, "document id must not contain NUL")
    }
  }

  /// Refuses an update body larger than `maxUpdateBytes`.
  static func check(update body: [UInt8]) throws(RealtimeError) {
    guard body.count <= maxUpdateBytes else {
      throw RealtimeError(
        .tooLarge, "document update of \(body.count) bytes exceeds the \(maxUpdateBytes)-byte limit")
    }
  }

  /// Refuses a snapshot larger than `maxSnapshotBytes`.
  static func check(snapshot: [UInt8]) throws(RealtimeError) {
    guard snapshot.count <= maxSnapshotBytes else {
      throw RealtimeError(
        .tooLarge, "document snapshot of \(snapshot.count) bytes exceeds the \(maxSnapshotBytes)-byte limit")
    }
  }
}

extension Store {
  /// The document `id` with its snapshot and the updates after it; nil when there is no such
  /// document. Any thread. Fails with `.corrupt` when the stored log does not run gaplessly from
  /// the snapshot to the last seq, since replaying it would silently give the wrong document.
  func loadDocument(_ id: String) throws(RealtimeError) -> StoredDocument? {
    try DocumentLimits.check(id: id)
    return try read { db throws(RealtimeError) in
      // One read transaction, so the row and its updates come from the same commit: between two
      // separate statements a compaction could delete updates the older row still points at.
      // (The row's unfinished statement happens to hold a read open too; nothing should rest on
      // that. The racing-compaction test fails as soon as the row is reset before the tail.)
      try db.exec("BEGIN")
      do throws(RealtimeError) {
        let document = try Store.document(id, in: db, keyring: atRest.keyring)
        try db.exec("COMMIT")
        return document
      } catch {
        try? db.exec("ROLLBACK")
        throw error
      }
    }
  }

  /// Up to `limit` document ids greater than `after` (nil: from the first), in byte order of
  /// their UTF-8 (SQLite's, not `String`'s `<`). Any thread.
  func documentIDs(after: String? = nil, limit: Int) throws(RealtimeError) -> [String] {
    guard limit > 0, limit <= 10_000 else {
      throw RealtimeError(.invalidArgument, "limit must be 1 to 10000")
    }
    if let after { try DocumentLimits.check(id: after) }
    return try read { db throws(RealtimeError) in
      let stmt = try db.prepare("SELECT id FROM rt_docs WHERE id > ?1 ORDER BY id LIMIT ?2")
      // Every valid id sorts after the empty string.
      try stmt.bind(1, after ?? "")
      try stmt.bind(2, Int64(limit))
      var ids: [String] = []
      while try stmt.step() { ids.append(stmt.text(0)) }
      return ids
    }
  }

  /// Reads one document inside the caller's transaction.
  /// Sealed rows are opened here (`AtRest`): one that does not open fails the load.
  private static func document(_ id: String, in db: SQLiteConnection, keyring: Keyring) throws(RealtimeError)
    -> StoredDocument?
  {
    let row = try db.prepare(
      "SELECT kind, snapshot IS NOT NULL, snapshot, snapshot_seq, last_seq, snapshot_key_id FROM rt_docs WHERE id = ?1"
    )
    try row.bind(1, id)
    guard try row.step() else { return nil }
    let kind = row.int64(0)
    let snapshotSeq = row.int64(3)
    let lastSeq = row.int64(4)
    let snapshot =
      row.int64(1) != 0
      ? try AtRest.open(row.bytes(2), keyID: row.int64(5), for: .snapshot(id, snapshotSeq), keyring: keyring) : nil
    guard snapshotSeq >= 0, lastSeq >= snapshotSeq, let kind = Int(exactly: kind) else {
      throw RealtimeError(
        .corrupt, "document '\(id)' has snapshot seq \(snapshotSeq) and last seq \(lastSeq); the database is damaged")
    }
    let tail = try db.prepare("SELECT seq, body, key_id FROM rt_doc_updates WHERE doc = ?1 AND seq > ?2 ORDER BY seq")
    try tail.bind(1, id)
    try tail.bind(2, snapshotSeq)
    var updates: [DocumentUpdate] = []
    var expected = snapshotSeq + 1
    while try tail.step() {
      let seq = tail.int64(0)
      guard seq == expected else {
        throw RealtimeError(
          .corrupt, "document '\(id)' has update \(seq) where \(expected) was due; the database is damaged")
      }
      guard seq <= lastSeq else {
        throw RealtimeError(
          .corrupt, "document '\(id)' has update \(seq) beyond its last seq \(lastSeq); the database is damaged")
      }
      let body = try AtRest.open(tail.bytes(1), keyID: tail.int64(2), for: .update(id, seq), keyring: keyring)
      updates.append(DocumentUpdate(seq: seq, body: body))
      expected += 1
    }
    guard expected == lastSeq + 1 else {
      throw RealtimeError(
        .corrupt,
        "document '\(id)' ends at update \(expected - 1) but records \(lastSeq) as its last; the database is damaged")
    }
    return StoredDocument(
      id: id, kind: kind, snapshot: snapshot, snapshotSeq: snapshotSeq, lastSeq: lastSeq, updates: updates)
  }
}
