import Synchronization

/// A write the store applies on its writer thread. Values only: no closures cross threads.
enum StoreWrite: Sendable {
  /// Registers a log stream under a fresh id.
  case createStream(id: Int64, name: String)
  /// Appends entry `seq` to a stream; fails unless `seq` directly follows the stream's last entry,
  /// so a log can never get a gap or a duplicate whatever happened to earlier batches. The
  /// payload is sealed at rest for (`stream`, `seq`) when a key is current, unless `endToEnd`
  /// (the client sealed it; stored as it came).
  case append(
    streamID: Int64, seq: Int64, payload: [UInt8], time: Int64 = 0, stream: String = "", endToEnd: Bool = false)
  /// Deletes a stream's entries below `belowSeq`, and those below `keepSeq` older than
  /// `olderThan` (ms since 1970; 0 for no age limit). Callers keep the newest entry, which
  /// carries the stream's last seq.
  case trim(streamID: Int64, belowSeq: Int64, keepSeq: Int64, olderThan: Int64)
  /// Sets a receipt cursor; within the same epoch it only ever moves forward.
  case receipt(user: String, channel: String, device: String, epoch: String, delivered: Int64, read: Int64)
  /// Records when a user was last seen; never moves back.
  case lastSeen(user: String, time: Int64)
  /// Creates document `id` of `kind` with an empty log, unless it exists; fails
  /// (`.invalidArgument`) if it exists with another kind, since its updates would be misread.
  case docCreate(id: String, kind: Int)
  /// Appends update `seq` to a document's log; fails unless `seq` is exactly one past its last
  /// seq (`.state`; `.notFound` without the document), so the log never gets a gap or a
  /// duplicate whatever happened to earlier batches.
  case docAppend(id: String, seq: Int64, body: [UInt8])
  /// Stores `snapshot` as the document's state after updates `1...throughSeq` and deletes those
  /// updates from the log, in the same transaction. Fails (`.state`) unless the current snapshot
  /// seq <= `throughSeq` <= last seq: a snapshot never covers updates that were not stored, and
  /// never goes back behind one already taken (whose updates are gone).
  case docCompact(id: String, snapshot: [UInt8], throughSeq: Int64)
  /// Deletes a document with its snapshot and log; nothing happens when it does not exist.
  case docDelete(id: String)
  /// Stores a file chunk under its hash (checked by the caller), at `time` (ms since 1970);
  /// nothing happens when it is stored already.
  case chunkPut(hash: [UInt8], data: [UInt8], time: Int64)
  /// Deletes the chunks of `hashes` stored at or before `storedBefore` (ms since 1970).
  case chunkDelete(hashes: [[UInt8]], storedBefore: Int64)
  /// Sets `user`'s role in `workspace` (1...4); role 0 (none) deletes the membership.
  case member(workspace: String, user: String, role: Int64)
  /// Sets the least role (0...4) `action` on channel or document `name` needs; nil deletes the rule.
  case accessRule(name: String, action: Int64, minRole: Int64?)
  /// A change to the sessions and devices tables (`SessionWrite`).
  case session(SessionWrite)
  /// Replaces rows' payloads with their re-sealed form, each only while the row still holds
  /// what was read (its key id unchanged), so a row trimmed or compacted meanwhile is left
  /// alone. Counted in `StoreWriter.resealedRows`.
  case reseal([ResealedRow])
}

/// One row re-sealed under the current key (`AtRest`, re-sealing).
struct ResealedRow: Sendable {
  /// Which row.
  enum Row: Sendable {
    case entry(streamID: Int64, seq: Int64)
    case update(doc: String, seq: Int64)
    case snapshot(doc: String, seq: Int64)
    case chunk(hash: [UInt8])
  }
  let row: Row
  /// The key id the row held when read (0 for plaintext).
  let oldKeyID: Int64
  let payload: [UInt8]
  let keyID: Int64
}

/// The writes gathered during one loop turn, committed together.
struct WriteBatch: Sendable {
  let id: UInt64
  var writes: [StoreWrite]
}

/// What became of a batch: committed (error nil) or rolled back.
struct BatchOutcome: Sendable {
  let id: UInt64
  let error: RealtimeError?
}

/// The single thread that writes to the database. Batches queue up while a commit is in
/// progress; the next commit takes all of them in one transaction (group commit), so the cost of
/// an fsync is shared by everything that arrived meanwhile.
final class StoreWriter: @unchecked Sendable {
  /// Transactions committed so far: with group commit, far fewer than writes.
  let committedTransactions = Atomic<UInt64>(0)
  /// Rows `.reseal` writes have replaced so far.
  let resealedRows = Atomic<UInt64>(0)
  private let atRest: AtRestKeys
  private let lock: ConditionLock
  // Guarded by `lock`.
  private var queue: [WriteBatch] = []
  /// Writes whose callers wait for their commit (`commitNow`), by request id.
  private var urgent: [(id: UInt64, writes: [StoreWrite])] = []
  private var urgentResults: [UInt64: RealtimeError?] = [:]
  private var nextUrgentID: UInt64 = 0
  private var busy = false
  private var stopping = false
  private var thread: LoopThread?

  // Writer thread only (after init); the connection closes when the thread ends.
  private var connection: SQLiteConnection?
  private let groupCommit: Bool
  private let sink: LogSink
  private let deliver: @Sendable ([BatchOutcome]) -> Void
  private var insertStream: SQLiteStatement?
  private var insertEntry: SQLiteStatement?
  private var trimEntries: SQLiteStatement?
  private var upsertReceipt: SQLiteStatement?
  private var upsertLastSeen: SQLiteStatement?
  private var markSealed: SQLiteStatement?
  private var docStatements = DocumentStatements()

  /// The document writes' prepared statements, kept together so they are released together.
  private struct DocumentStatements {
    var insert: SQLiteStatement?
    var state: SQLiteStatement?
    var advance: SQLiteStatement?
    var insertUpdate: SQLiteStatement?
    var snapshot: SQLiteStatement?
    var dropUpdates: SQLiteStatement?
    var delete: SQLiteStatement?
    var putChunk: SQLiteStatement?
    var deleteChunk: SQLiteStatement?
    var setMember: SQLiteStatement?
    var deleteMember: SQLiteStatement?
    var setRule: SQLiteStatement?
    var deleteRule: SQLiteStatement?
    var resealEntry: SQLiteStatement?
    var resealUpdate: SQLiteStatement?
    var resealSnapshot: SQLiteStatement?
    var resealChunk: SQLiteStatement?
  }

  /// Takes ownership of `db` and starts the thread. `deliver` runs on the writer thread after
  /// each commit with the outcome of every batch in it.
  init(
    db: sending SQLiteConnection, groupCommit: Bool,
    atRest: AtRestKeys = AtRestKeys(keyring: Keyring(), holdsSealedRows: false), log: LogSink,
    deliver: @escaping @Sendable ([BatchOutcome]) -> Void
  ) throws(RealtimeError) {
    self.lock = try ConditionLock()
    self.atRest = atRest
    self.connection = db
    self.groupCommit = groupCommit
    self.sink = log
    self.deliver = deliver
    // The thread keeps the writer alive until shutdown() ends it.
    self.thread = try LoopThread(name: "store writer") { self.run() }
  }

  /// Queues a batch. Any thread.
  func submit(_ batch: WriteBatch) {
    lock.withLock {
      queue.append(batch)
      lock.broadcast()
    }
  }

  /// Commits `writes` in a transaction of their own (shared with other callers waiting at the
  /// same time) and returns once it is durable, or throws what failed (the writes are then
  /// rolled back). For the few writes whose caller must not answer before they are on disk —
  /// session rotation and revocation, re-sealing batches — not for the hot path, which uses `submit`. Any thread;
  /// blocks for the commit (an fsync with full durability).
  func commitNow(_ writes: [StoreWrite]) throws(RealtimeError) {
    let outcome = lock.withLock { () -> RealtimeError? in
      guard !stopping else { return RealtimeError(.closed, "the store is closed") }
      let id = nextUrgentID
      nextUrgentID += 1
      urgent.append((id, writes))
      lock.broadcast()
      while true {
        if let result = urgentResults.removeValue(forKey: id) { return result }
        lock.wait()
      }
    }
    if let outcome { throw outcome }
  }

  /// Blocks until every submitted batch is committed (or failed) and delivered.
  func waitIdle() {
    lock.withLock {
      while busy || !queue.isEmpty || !urgent.isEmpty { lock.wait() }
    }
  }

  /// Finishes the queue, then ends the thread. Idempotent.
  func shutdown() {
    let thread = lock.withLock { () -> LoopThread? in
      stopping = true
      lock.broadcast()
      defer { self.thread = nil }
      return self.thread
    }
    guard var thread else { return }
    thread.join()
  }

  private func run() {
    while true {
      let work = lock.withLock { () -> (batches: [WriteBatch], urgent: [(id: UInt64, writes: [StoreWrite])])? in
        while queue.isEmpty && urgent.isEmpty && !stopping { lock.wait() }
        if queue.isEmpty && urgent.isEmpty { return nil }
        busy = true
        defer {
          queue.removeAll(keepingCapacity: true)
          urgent.removeAll()
        }
        return (queue, urgent)
      }
      guard let (batches, urgentWrites) = work else {
        insertStream = nil
        insertEntry = nil
        trimEntries = nil
        upsertReceipt = nil
        upsertLastSeen = nil
        markSealed = nil
        docStatements = DocumentStatements()
        connection = nil
        return
      }
      if !batches.isEmpty { deliver(groupCommit ? commit(batches) : commitEachWrite(batches)) }
      let results = commitUrgent(urgentWrites)
      lock.withLock {
        for (id, error) in results { urgentResults[id] = error }
        busy = false
        lock.broadcast()
      }
    }
  }

  /// One transaction for everything queued: all batches commit, or none does.
  private func commit(_ batches: [WriteBatch]) -> [BatchOutcome] {
    let error = transaction { () throws(RealtimeError) in
      for batch in batches {
        for write in batch.writes { try apply(write) }
      }
    }
    return batches.map { BatchOutcome(id: $0.id, error: error) }
  }

  /// The waiting callers' writes: one transaction for all of them (one fsync); should it fail,
  /// one each, so a bad request does not fail the others.
  private func commitUrgent(_ requests: [(id: UInt64, writes: [StoreWrite])]) -> [(UInt64, RealtimeError?)] {
    guard !requests.isEmpty else { return [] }
    let together = transaction { () throws(RealtimeError) in
      for request in requests {
        for write in request.writes { try apply(write) }
      }
    }
    guard together != nil, requests.count > 1 else { return requests.map { ($0.id, together) } }
    return requests.map { request in
      (request.id, transaction { () throws(RealtimeError) in for write in request.writes { try apply(write) } })
    }
  }

  /// One transaction per write: what group commit is measured against.
  private func commitEachWrite(_ batches: [WriteBatch]) -> [BatchOutcome] {
    batches.map { batch in
      var first: RealtimeError?
      for write in batch.writes {
        if let error = transaction({ () throws(RealtimeError) in try apply(write) }), first == nil {
          first = error
        }
      }
      return BatchOutcome(id: batch.id, error: first)
    }
  }

  private func transaction(_ body: () throws(RealtimeError) -> Void) -> RealtimeError? {
    do throws(RealtimeError) {
      let db = try self.db()
      try db.exec("BEGIN IMMEDIATE")
      do throws(RealtimeError) {
        try body()
        try db.exec("COMMIT")
        committedTransactions.add(1, ordering: .relaxed)
      } catch {
        try? db.exec("ROLLBACK")
        throw error
      }
      return nil
    } catch {
      sink(.error, "store write failed and was rolled back: \(error.message)")
      return error
    }
  }

  /// The writer's connection; writer thread only.
  func db() throws(RealtimeError) -> SQLiteConnection {
    guard let connection else { throw RealtimeError(.closed, "the store is closed") }
    return connection
  }

  private func apply(_ write: StoreWrite) throws(RealtimeError) {
    switch write {
    case .createStream(let id, let name):
      let stmt = try statement(&insertStream, "INSERT INTO rt_streams(id, name) VALUES (?1, ?2)")
      defer { stmt.reset() }
      try stmt.bind(1, id)
      try stmt.bind(2, name)
      _ = try stmt.step()
    case .receipt(let user, let channel, let device, let epoch, let delivered, let read):
      let stmt = try statement(
        &upsertReceipt,
        """
        INSERT INTO rt_receipts(user, channel, device, epoch, delivered, read) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
        ON CONFLICT(user, channel, device) DO UPDATE SET
          delivered = CASE WHEN epoch = excluded.epoch THEN max(delivered, excluded.delivered)
                      ELSE excluded.delivered END,
          read = CASE WHEN epoch = excluded.epoch THEN max(read, excluded.read) ELSE excluded.read END,
          epoch = excluded.epoch
        """)
      defer { stmt.reset() }
      try stmt.bind(1, user)
      try stmt.bind(2, channel)
      try stmt.bind(3, device)
      try stmt.bind(4, epoch)
      try stmt.bind(5, delivered)
      try stmt.bind(6, read)
      _ = try stmt.step()
    case .lastSeen(let user, let time):
      let stmt = try statement(
        &upsertLastSeen,
        """
        INSERT INTO rt_last_seen(user, time) VALUES (?1, ?2)
        ON CONFLICT(user) DO UPDATE SET time = max(time, excluded.time)
        """)
      defer { stmt.reset() }
      try stmt.bind(1, user)
      try stmt.bind(2, time)
      _ = try stmt.step()
    case .trim(let streamID, let belowSeq, let keepSeq, let olderThan):
      let stmt = try statement(
        &trimEntries,
        "DELETE FROM rt_log WHERE stream_id = ?1 AND (seq < ?2 OR (seq < ?3 AND time < ?4))")
      defer { stmt.reset() }
      try stmt.bind(1, streamID)
      try stmt.bind(2, belowSeq)
      try stmt.bind(3, keepSeq)
      try stmt.bind(4, olderThan)
      _ = try stmt.step()
    case .append(let streamID, let seq, let plain, let time, let stream, let endToEnd):
      let (payload, keyID) =
        endToEnd ? (plain, AtRest.endToEnd) : try AtRest.seal(plain, for: .entry(stream, seq), keys: atRest)
      if keyID > 0 { try noteSealed() }
      let stmt = try statement(
        &insertEntry,
        """
        INSERT INTO rt_log(stream_id, seq, payload, time, key_id)
        SELECT ?1, ?2, ?3, ?4, ?5
        WHERE ?2 = 1 + coalesce((SELECT max(seq) FROM rt_log WHERE stream_id = ?1), 0)
        """)
      defer { stmt.reset() }
      try stmt.bind(1, streamID)
      try stmt.bind(2, seq)
      try stmt.bind(3, payload)
      try stmt.bind(4, time)
      try stmt.bind(5, keyID)
      _ = try stmt.step()
      guard try db().changes == 1 else {
        throw RealtimeError(.internal, "append of entry \(seq) to stream \(streamID) would leave a gap; refused")
      }
    case .docCreate(let id, let kind):
      try createDocument(id, kind: kind)
    case .docAppend(let id, let seq, let body):
      try appendToDocument(id, seq: seq, body: body)
    case .docCompact(let id, let snapshot, let throughSeq):
      try compactDocument(id, snapshot: snapshot, throughSeq: throughSeq)
    case .docDelete(let id):
      try deleteDocument(id)
    case .chunkPut(let hash, let data, let time):
      try ChunkLimits.check(hash: hash, data: data)
      let (sealed, keyID) = try AtRest.seal(data, for: .chunk(hash), keys: atRest)
      if keyID > 0 { try noteSealed() }
      let stmt = try statement(
        &docStatements.putChunk,
        "INSERT INTO rt_chunks(hash, data, stored_at, key_id) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(hash) DO NOTHING")
      defer { stmt.reset() }
      try stmt.bind(1, hash)
      try stmt.bind(2, sealed)
      try stmt.bind(3, time)
      try stmt.bind(4, keyID)
      _ = try stmt.step()
    case .member(let workspace, let user, let role):
      try applyMember(workspace: workspace, user: user, role: role)
    case .accessRule(let name, let action, let minRole):
      try applyAccessRule(name: name, action: action, minRole: minRole)
    case .chunkDelete(let hashes, let storedBefore):
      let stmt = try statement(
        &docStatements.deleteChunk, "DELETE FROM rt_chunks WHERE hash = ?1 AND stored_at <= ?2")
      for hash in hashes {
        defer { stmt.reset() }
        try stmt.bind(1, hash)
        try stmt.bind(2, storedBefore)
        _ = try stmt.step()
      }
    case .session(let write):
      try apply(write)
    case .reseal(let rows):
      try reseal(rows)
    }
  }

  /// Records in rt_meta, in the current transaction, that the database holds sealed rows.
  private func noteSealed() throws(RealtimeError) {
    guard !atRest.holdsSealedRows.load(ordering: .relaxed) else { return }
    let stmt = try statement(
      &markSealed, "INSERT INTO rt_meta(key, value) VALUES ('sealed', 1) ON CONFLICT(key) DO NOTHING")
    defer { stmt.reset() }
    _ = try stmt.step()
    // Set before the commit: if it rolls back, refusing plaintext until a restart errs on the
    // safe side.
    atRest.holdsSealedRows.store(true, ordering: .relaxed)
  }

  /// Applies `.reseal`.
  private func reseal(_ rows: [ResealedRow]) throws(RealtimeError) {
    if rows.contains(where: { $0.keyID > 0 }) { try noteSealed() }
    // Zero what the old payloads occupied: otherwise a plaintext (or old-key) copy would stay
    // in the freed space of the page or on the freelist, and re-sealing would only look done.
    let connection = try self.db()
    let secureDelete = try connection.scalar("PRAGMA secure_delete") ?? 0
    try connection.exec("PRAGMA secure_delete = ON")
    defer { try? connection.exec("PRAGMA secure_delete = \(secureDelete)") }
    for row in rows {
      let stmt: SQLiteStatement
      switch row.row {
      case .entry(let streamID, let seq):
        stmt = try statement(
          &docStatements.resealEntry,
          "UPDATE rt_log SET payload = ?1, key_id = ?2 WHERE stream_id = ?3 AND seq = ?4 AND key_id = ?5")
        try stmt.bind(3, streamID)
        try stmt.bind(4, seq)
      case .update(let doc, let seq):
        stmt = try statement(
          &docStatements.resealUpdate,
          "UPDATE rt_doc_updates SET body = ?1, key_id = ?2 WHERE doc = ?3 AND seq = ?4 AND key_id = ?5")
        try stmt.bind(3, doc)
        try stmt.bind(4, seq)
      case .snapshot(let doc, let seq):
        stmt = try statement(
          &docStatements.resealSnapshot,
          """
          UPDATE rt_docs SET snapshot = ?1, snapshot_key_id = ?2
          WHERE id = ?3 AND snapshot_seq = ?4 AND snapshot_key_id = ?5 AND snapshot IS NOT NULL
          """)
        try stmt.bind(3, doc)
        try stmt.bind(4, seq)
      case .chunk(let hash):
        stmt = try statement(
          &docStatements.resealChunk, "UPDATE rt_chunks SET data = ?1, key_id = ?2 WHERE hash = ?3 AND key_id = ?5")
        try stmt.bind(3, hash)
      }
      defer { stmt.reset() }
      try stmt.bind(1, row.payload)
      try stmt.bind(2, row.keyID)
      try stmt.bind(5, row.oldKeyID)
      _ = try stmt.step()
      resealedRows.add(UInt64(try db().changes), ordering: .relaxed)
    }
  }

  /// Applies `.member`.
  private func applyMember(workspace: String, user: String, role: Int64) throws(RealtimeError) {
    if role == 0 {
      let stmt = try statement(
        &docStatements.deleteMember, "DELETE FROM rt_members WHERE workspace = ?1 AND user = ?2")
      defer { stmt.reset() }
      try stmt.bind(1, workspace)
      try stmt.bind(2, user)
      _ = try stmt.step()
      return
    }
    let stmt = try statement(
      &docStatements.setMember,
      """
      INSERT INTO rt_members(workspace, user, role) VALUES (?1, ?2, ?3)
      ON CONFLICT(workspace, user) DO UPDATE SET role = excluded.role
      """)
    defer { stmt.reset() }
    try stmt.bind(1, workspace)
    try stmt.bind(2, user)
    try stmt.bind(3, role)
    _ = try stmt.step()
  }

  /// Applies `.accessRule`.
  private func applyAccessRule(name: String, action: Int64, minRole: Int64?) throws(RealtimeError) {
    guard let minRole else {
      let stmt = try statement(
        &docStatements.deleteRule, "DELETE FROM rt_access_rules WHERE name = ?1 AND action = ?2")
      defer { stmt.reset() }
      try stmt.bind(1, name)
      try stmt.bind(2, action)
      _ = try stmt.step()
      return
    }
    let stmt = try statement(
      &docStatements.setRule,
      """
      INSERT INTO rt_access_rules(name, action, min_role) VALUES (?1, ?2, ?3)
      ON CONFLICT(name, action) DO UPDATE SET min_role = excluded.min_role
      """)
    defer { stmt.reset() }
    try stmt.bind(1, name)
    try stmt.bind(2, action)
    try stmt.bind(3, minRole)
    _ = try stmt.step()
  }

  /// Applies `.docCreate`.
  private func createDocument(_ id: String, kind: Int) throws(RealtimeError) {
    try DocumentLimits.check(id: id)
    let stmt = try statement(
      &docStatements.insert, "INSERT INTO rt_docs(id, kind) VALUES (?1, ?2) ON CONFLICT(id) DO NOTHING")
    defer { stmt.reset() }
    try stmt.bind(1, id)
    try stmt.bind(2, Int64(kind))
    _ = try stmt.step()
    guard try db().changes == 0 else { return }
    // It existed: fine if it is the same document, refused if the kinds disagree.
    if let existing = try documentState(id), existing.kind != Int64(kind) {
      throw RealtimeError(
        .invalidArgument, "document '\(id)' exists with kind \(existing.kind); refused to create it as kind \(kind)")
    }
  }

  /// Applies `.docAppend`.
  private func appendToDocument(_ id: String, seq: Int64, body: [UInt8]) throws(RealtimeError) {
    try DocumentLimits.check(id: id)
    try DocumentLimits.check(update: body)
    // Advancing last_seq only from seq - 1 is the gap and duplicate check; the insert follows in
    // the same transaction, so a failure of either leaves neither.
    let advance = try statement(
      &docStatements.advance, "UPDATE rt_docs SET last_seq = ?2 WHERE id = ?1 AND last_seq + 1 = ?2")
    defer { advance.reset() }
    try advance.bind(1, id)
    try advance.bind(2, seq)
    _ = try advance.step()
    guard try db().changes == 1 else {
      guard let state = try documentState(id) else {
        throw RealtimeError(.notFound, "no document '\(id)' to append update \(seq) to")
      }
      throw RealtimeError(
        .state,
        "update \(seq) of document '\(id)' does not follow its last update \(state.lastSeq) (a gap or a duplicate); refused"
      )
    }
    let (sealed, keyID) = try AtRest.seal(body, for: .update(id, seq), keys: atRest)
    if keyID > 0 { try noteSealed() }
    let insert = try statement(
      &docStatements.insertUpdate, "INSERT INTO rt_doc_updates(doc, seq, body, key_id) VALUES (?1, ?2, ?3, ?4)")
    defer { insert.reset() }
    try insert.bind(1, id)
    try insert.bind(2, seq)
    try insert.bind(3, sealed)
    try insert.bind(4, keyID)
    _ = try insert.step()
  }

  /// Applies `.docCompact`.
  private func compactDocument(_ id: String, snapshot: [UInt8], throughSeq: Int64) throws(RealtimeError) {
    try DocumentLimits.check(id: id)
    try DocumentLimits.check(snapshot: snapshot)
    let (sealed, keyID) = try AtRest.seal(snapshot, for: .snapshot(id, throughSeq), keys: atRest)
    if keyID > 0 { try noteSealed() }
    let store = try statement(
      &docStatements.snapshot,
      """
      UPDATE rt_docs SET snapshot = ?2, snapshot_seq = ?3, snapshot_key_id = ?4
      WHERE id = ?1 AND ?3 BETWEEN snapshot_seq AND last_seq
      """)
    defer { store.reset() }
    try store.bind(1, id)
    try store.bind(2, sealed)
    try store.bind(3, throughSeq)
    try store.bind(4, keyID)
    _ = try store.step()
    guard try db().changes == 1 else {
      guard let state = try documentState(id) else {
        throw RealtimeError(.notFound, "no document '\(id)' to compact")
      }
      throw RealtimeError(
        .state,
        "a snapshot of document '\(id)' through update \(throughSeq) is outside \(state.snapshotSeq)...\(state.lastSeq) (its snapshot to its last update); refused"
      )
    }
    try dropDocumentUpdates(id, throughSeq: throughSeq)
  }

  /// Applies `.docDelete`.
  private func deleteDocument(_ id: String) throws(RealtimeError) {
    try DocumentLimits.check(id: id)
    // The log first: its rows reference the document.
    try dropDocumentUpdates(id, throughSeq: .max)
    let stmt = try statement(&docStatements.delete, "DELETE FROM rt_docs WHERE id = ?1")
    defer { stmt.reset() }
    try stmt.bind(1, id)
    _ = try stmt.step()
  }

  /// Deletes a document's updates `1...throughSeq`.
  private func dropDocumentUpdates(_ id: String, throughSeq: Int64) throws(RealtimeError) {
    let stmt = try statement(&docStatements.dropUpdates, "DELETE FROM rt_doc_updates WHERE doc = ?1 AND seq <= ?2")
    defer { stmt.reset() }
    try stmt.bind(1, id)
    try stmt.bind(2, throughSeq)
    _ = try stmt.step()
  }

  /// A document's kind and seqs, read to explain a refusal; nil when it does not exist.
  private func documentState(_ id: String) throws(RealtimeError)
    -> (kind: Int64, snapshotSeq: Int64, lastSeq: Int64)?
  {
    let stmt = try statement(&docStatements.state, "SELECT kind, snapshot_seq, last_seq FROM rt_docs WHERE id = ?1")
    defer { stmt.reset() }
    try stmt.bind(1, id)
    guard try stmt.step() else { return nil }
    return (stmt.int64(0), stmt.int64(1), stmt.int64(2))
  }

  private func statement(_ slot: inout SQLiteStatement?, _ sql: String) throws(RealtimeError)
    -> SQLiteStatement
  {
    if let stmt = slot { return stmt }
    let stmt = try db().prepare(sql)
    slot = stmt
    return stmt
  }
}
