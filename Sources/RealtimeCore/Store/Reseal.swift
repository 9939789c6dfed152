extension Store {
  /// Most bytes of payload one re-seal batch carries, so a batch of large rows stays short too.
  static let resealBatchBytes = 8 << 20

  /// Re-seals under the current key every stored row sealed under another key, and every
  /// plaintext row (end-to-end rows are the client's and stay as they are): channel entries,
  /// document updates, snapshots and file chunks. Runs on the calling thread, which reads, opens
  /// and seals; the writer applies each batch of `AtRest.resealBatchRows` rows (or
  /// `resealBatchBytes`) as a write among the others, so publishing goes on meanwhile. Afterwards the old keys can be
  /// removed. Returns the rows re-sealed.
  ///
  /// Throws `.state` with no current key; `.corrupt` or `.notFound` (key not loaded) for a row
  /// that does not open, naming it — rows re-sealed before it stay re-sealed, nothing is deleted.
  func reseal() throws(RealtimeError) -> UInt64 {
    guard let current = atRest.keyring.currentID else {
      throw RealtimeError(.state, "no current key to re-seal under: add a key and make it current first")
    }
    let before = writer.resealedRows.load(ordering: .relaxed)
    try resealEntries(current: Int64(current))
    try resealUpdates(current: Int64(current))
    try resealSnapshots(current: Int64(current))
    try resealChunks(current: Int64(current))
    return writer.resealedRows.load(ordering: .relaxed) &- before
  }

  private func resealEntries(current: Int64) throws(RealtimeError) {
    let scan = ResealScan<(Int64, Int64)>(
      sql: """
        SELECT l.stream_id, l.seq, l.payload, l.key_id, s.name FROM rt_log l JOIN rt_streams s ON s.id = l.stream_id
        WHERE l.key_id NOT IN (?1, -1) AND (l.stream_id, l.seq) > (?2, ?3)
        ORDER BY l.stream_id, l.seq LIMIT ?4
        """,
      bind: { stmt, after throws(RealtimeError) in
        try stmt.bind(2, after.0)
        try stmt.bind(3, after.1)
        return 4
      },
      found: { stmt in
        let (streamID, seq) = (stmt.int64(0), stmt.int64(1))
        return (.entry(streamID: streamID, seq: seq), .entry(stmt.text(4), seq), 2, 3, (streamID, seq))
      })
    try reseal(scan, after: (Int64.min, Int64.min), current: current)
  }

  private func resealUpdates(current: Int64) throws(RealtimeError) {
    let scan = ResealScan<(String, Int64)>(
      sql: """
        SELECT doc, seq, body, key_id FROM rt_doc_updates
        WHERE key_id NOT IN (?1, -1) AND (doc, seq) > (?2, ?3) ORDER BY doc, seq LIMIT ?4
        """,
      bind: { stmt, after throws(RealtimeError) in
        try stmt.bind(2, after.0)
        try stmt.bind(3, after.1)
        return 4
      },
      found: { stmt in
        let (doc, seq) = (stmt.text(0), stmt.int64(1))
        return (.update(doc: doc, seq: seq), .update(doc, seq), 2, 3, (doc, seq))
      })
    try reseal(scan, after: ("", Int64.min), current: current)
  }

  private func resealSnapshots(current: Int64) throws(RealtimeError) {
    let scan = ResealScan<String>(
      sql: """
        SELECT id, snapshot_seq, snapshot, snapshot_key_id FROM rt_docs
        WHERE snapshot IS NOT NULL AND snapshot_key_id NOT IN (?1, -1) AND id > ?2 ORDER BY id LIMIT ?3
        """,
      bind: { stmt, after throws(RealtimeError) in
        try stmt.bind(2, after)
        return 3
      },
      found: { stmt in
        let (doc, seq) = (stmt.text(0), stmt.int64(1))
        return (.snapshot(doc: doc, seq: seq), .snapshot(doc, seq), 2, 3, doc)
      })
    try reseal(scan, after: "", current: current)
  }

  private func resealChunks(current: Int64) throws(RealtimeError) {
    let scan = ResealScan<[UInt8]>(
      sql: "SELECT hash, data, key_id FROM rt_chunks WHERE key_id NOT IN (?1, -1) AND hash > ?2 ORDER BY hash LIMIT ?3",
      bind: { stmt, after throws(RealtimeError) in
        try stmt.bind(2, after)
        return 3
      },
      found: { stmt in
        let hash = stmt.bytes(0)
        return (.chunk(hash: hash), .chunk(hash), 1, 2, hash)
      })
    try reseal(scan, after: [], current: current)
  }

  /// Re-seals the rows `scan` selects, a batch at a time in key order after `after`: each row
  /// opened under the key it names and sealed for the same place under the current key.
  private func reseal<Cursor>(_ scan: ResealScan<Cursor>, after start: Cursor, current: Int64)
    throws(RealtimeError)
  {
    var after = start
    while true {
      let rows = try read { db throws(RealtimeError) -> [ResealedRow] in
        let stmt = try db.prepare(scan.sql)
        try stmt.bind(1, current)
        try stmt.bind(try scan.bind(stmt, after), Int64(AtRest.resealBatchRows))
        var rows: [ResealedRow] = []
        var bytes = 0
        while bytes < Store.resealBatchBytes, try stmt.step() {
          let found = scan.found(stmt)
          let oldKey = stmt.int64(found.keyColumn)
          let plain = try AtRest.open(
            stmt.bytes(found.payloadColumn), keyID: oldKey, for: found.place, keyring: atRest.keyring)
          let (sealed, keyID) = try AtRest.seal(plain, for: found.place, keys: atRest)
          rows.append(ResealedRow(row: found.row, oldKeyID: oldKey, payload: sealed, keyID: keyID))
          bytes += sealed.count
          after = found.cursor
        }
        return rows
      }
      if rows.isEmpty { return }
      try applyReseal(rows)
    }
  }

  /// Hands one batch to the writer and waits for its commit (a transaction of its own, so a
  /// failure rolls back only the batch, never the loop's writes).
  private func applyReseal(_ rows: [ResealedRow]) throws(RealtimeError) {
    try writer.commitNow([.reseal(rows)])
  }
}

/// How to find one table's rows to re-seal: a query (`?1` the current key id, then the cursor's
/// parameters, then the batch limit) in key order after a cursor, and what each result row is.
private struct ResealScan<Cursor> {
  let sql: String
  /// Binds the cursor from `?2` on and returns the parameter index of the limit.
  let bind: (SQLiteStatement, Cursor) throws(RealtimeError) -> Int32
  /// The current result row: which stored row, its place, the payload's and key id's columns,
  /// and the cursor after it.
  let found:
    (SQLiteStatement) -> (
      row: ResealedRow.Row, place: AtRest.Place, payloadColumn: Int32, keyColumn: Int32, cursor: Cursor
    )
}
