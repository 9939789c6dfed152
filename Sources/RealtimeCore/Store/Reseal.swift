import Synchronization

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
    var after: (Int64, Int64) = (Int64.min, Int64.min)
    while true {
      let rows = try read { db throws(RealtimeError) -> [ResealedRow] in
        let stmt = try db.prepare(
          """
          SELECT l.stream_id, l.seq, l.payload, l.key_id, s.name FROM rt_log l JOIN rt_streams s ON s.id = l.stream_id
          WHERE l.key_id NOT IN (?1, -1) AND (l.stream_id, l.seq) > (?2, ?3)
          ORDER BY l.stream_id, l.seq LIMIT ?4
          """)
        try stmt.bind(1, current)
        try stmt.bind(2, after.0)
        try stmt.bind(3, after.1)
        try stmt.bind(4, Int64(AtRest.resealBatchRows))
        var rows: [ResealedRow] = []
        var bytes = 0
        while bytes < Store.resealBatchBytes, try stmt.step() {
          let (streamID, seq, oldKey, name) = (stmt.int64(0), stmt.int64(1), stmt.int64(3), stmt.text(4))
          let place = AtRest.Place.entry(name, seq)
          let plain = try AtRest.open(stmt.bytes(2), keyID: oldKey, for: place, keyring: atRest.keyring)
          let (sealed, keyID) = try AtRest.seal(plain, for: place, keys: atRest)
          rows.append(
            ResealedRow(row: .entry(streamID: streamID, seq: seq), oldKeyID: oldKey, payload: sealed, keyID: keyID))
          bytes += sealed.count
          after = (streamID, seq)
        }
        return rows
      }
      if rows.isEmpty { return }
      try applyReseal(rows)
    }
  }

  private func resealUpdates(current: Int64) throws(RealtimeError) {
    var after: (String, Int64) = ("", Int64.min)
    while true {
      let rows = try read { db throws(RealtimeError) -> [ResealedRow] in
        let stmt = try db.prepare(
          """
          SELECT doc, seq, body, key_id FROM rt_doc_updates
          WHERE key_id NOT IN (?1, -1) AND (doc, seq) > (?2, ?3) ORDER BY doc, seq LIMIT ?4
          """)
        try stmt.bind(1, current)
        try stmt.bind(2, after.0)
        try stmt.bind(3, after.1)
        try stmt.bind(4, Int64(AtRest.resealBatchRows))
        var rows: [ResealedRow] = []
        var bytes = 0
        while bytes < Store.resealBatchBytes, try stmt.step() {
          let (doc, seq, oldKey) = (stmt.text(0), stmt.int64(1), stmt.int64(3))
          let place = AtRest.Place.update(doc, seq)
          let plain = try AtRest.open(stmt.bytes(2), keyID: oldKey, for: place, keyring: atRest.keyring)
          let (sealed, keyID) = try AtRest.seal(plain, for: place, keys: atRest)
          rows.append(ResealedRow(row: .update(doc: doc, seq: seq), oldKeyID: oldKey, payload: sealed, keyID: keyID))
          bytes += sealed.count
          after = (doc, seq)
        }
        return rows
      }
      if rows.isEmpty { return }
      try applyReseal(rows)
    }
  }

  private func resealSnapshots(current: Int64) throws(RealtimeError) {
    var after = ""
    while true {
      let rows = try read { db throws(RealtimeError) -> [ResealedRow] in
        let stmt = try db.prepare(
          """
          SELECT id, snapshot_seq, snapshot, snapshot_key_id FROM rt_docs
          WHERE snapshot IS NOT NULL AND snapshot_key_id NOT IN (?1, -1) AND id > ?2 ORDER BY id LIMIT ?3
          """)
        try stmt.bind(1, current)
        try stmt.bind(2, after)
        try stmt.bind(3, Int64(AtRest.resealBatchRows))
        var rows: [ResealedRow] = []
        var bytes = 0
        while bytes < Store.resealBatchBytes, try stmt.step() {
          let (doc, seq, oldKey) = (stmt.text(0), stmt.int64(1), stmt.int64(3))
          let place = AtRest.Place.snapshot(doc, seq)
          let plain = try AtRest.open(stmt.bytes(2), keyID: oldKey, for: place, keyring: atRest.keyring)
          let (sealed, keyID) = try AtRest.seal(plain, for: place, keys: atRest)
          rows.append(ResealedRow(row: .snapshot(doc: doc, seq: seq), oldKeyID: oldKey, payload: sealed, keyID: keyID))
          bytes += sealed.count
          after = doc
        }
        return rows
      }
      if rows.isEmpty { return }
      try applyReseal(rows)
    }
  }

  private func resealChunks(current: Int64) throws(RealtimeError) {
    var after: [UInt8] = []
    while true {
      let rows = try read { db throws(RealtimeError) -> [ResealedRow] in
        let stmt = try db.prepare(
          "SELECT hash, data, key_id FROM rt_chunks WHERE key_id NOT IN (?1, -1) AND hash > ?2 ORDER BY hash LIMIT ?3")
        try stmt.bind(1, current)
        try stmt.bind(2, after)
        try stmt.bind(3, Int64(AtRest.resealBatchRows))
        var rows: [ResealedRow] = []
        var bytes = 0
        while bytes < Store.resealBatchBytes, try stmt.step() {
          let (hash, oldKey) = (stmt.bytes(0), stmt.int64(2))
          let place = AtRest.Place.chunk(hash)
          let plain = try AtRest.open(stmt.bytes(1), keyID: oldKey, for: place, keyring: atRest.keyring)
          let (sealed, keyID) = try AtRest.seal(plain, for: place, keys: atRest)
          rows.append(ResealedRow(row: .chunk(hash: hash), oldKeyID: oldKey, payload: sealed, keyID: keyID))
          bytes += sealed.count
          after = hash
        }
        return rows
      }
      if rows.isEmpty { return }
      try applyReseal(rows)
    }
  }

  /// Hands one batch to the writer and waits for its commit.
  private func applyReseal(_ rows: [ResealedRow]) throws(RealtimeError) {
    let id = Store.resealBatchIDs.add(1, ordering: .relaxed).newValue
    writer.submit(WriteBatch(id: id, writes: [.reseal(rows)], silent: true))
    if let error = writer.outcome(of: id) { throw error }
  }

  /// Ids of silent batches, apart from the loop's (which count from 1).
  private static let resealBatchIDs = Atomic<UInt64>(1 << 62)
}
