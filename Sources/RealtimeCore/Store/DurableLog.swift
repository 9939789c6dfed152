import CLibUV

/// Durable, ordered logs: each named stream holds entries numbered 1, 2, 3… with no gap, kept in
/// SQLite. Loop-thread only. Appends made during a loop turn are handed to the writer as one
/// batch at the turn's end (group commit); each append is acknowledged as its durability demands.
///
/// This is the storage primitive under channel history: a channel is a stream, an offset a seq.
final class DurableLog {
  /// Longest stream name, in bytes.
  static let maxStreamNameBytes = 1024
  /// Largest entry, in bytes.
  static let maxPayloadBytes = 16 << 20

  /// Called with the entry's seq once durable (per the store's durability), or with the error.
  typealias AppendCompletion = (Result<UInt64, RealtimeError>) -> Void
  /// Called once everything queued before it is committed.
  typealias BarrierCompletion = (RealtimeError?) -> Void

  private enum Waiting {
    case append(UInt64, AppendCompletion)
    case barrier(BarrierCompletion)
  }

  private struct Stream {
    let id: Int64
    var lastSeq: Int64
  }

  private let store: Store
  private let sink: LogSink
  private var streams: [String: Stream] = [:]
  private var nextStreamID: Int64?
  private var pendingWrites: [StoreWrite] = []
  private var pendingWaiting: [Waiting] = []
  // Batches handed to the writer, oldest first, with who waits on each.
  private var inFlight: [(id: UInt64, waiting: [Waiting])] = []
  private var inFlightHead = 0
  private var nextBatchID: UInt64 = 1
  private var closed = true
  // Set when a batch failed: cached seqs may be ahead of the database until the writer settles.
  private var resyncing = false

  init(store: Store, log: LogSink) {
    self.store = store
    self.sink = log
  }

  /// Starts receiving the writer's outcomes on `loop`.
  func open(loop: UnsafeMutablePointer<uv_loop_t>) throws(RealtimeError) {
    try store.outcomes.open(loop: loop, keepsLoopAlive: false) { [unowned self] batches in
      for outcomes in batches { self.settle(outcomes) }
    }
    closed = false
  }

  /// Appends `payload` to `stream`, creating the stream on first use, stamped with `time` (ms
  /// since 1970, for trimming by age). The seq is assigned now and returned (nil when the append
  /// was refused at once); `completion` runs on the loop thread once the entry is durable, or with
  /// the reason it is not — with durability `off`, before `append` returns. The writer seals the
  /// entry at rest when a key is current; `endToEnd` entries (sealed by the client) are stored
  /// as they are.
  @discardableResult
  func append(
    stream name: String, payload: [UInt8], time: UInt64 = 0, endToEnd: Bool = false,
    completion: @escaping AppendCompletion
  )
    -> UInt64?
  {
    guard !closed else {
      completion(.failure(RealtimeError(.closed, "the core is stopping; nothing was appended")))
      return nil
    }
    guard !name.isEmpty, name.utf8.count <= DurableLog.maxStreamNameBytes else {
      completion(
        .failure(
          RealtimeError(
            .invalidArgument, "stream name must be 1 to \(DurableLog.maxStreamNameBytes) bytes")))
      return nil
    }
    guard payload.count <= DurableLog.maxPayloadBytes else {
      completion(
        .failure(
          RealtimeError(
            .invalidArgument, "entry of \(payload.count) bytes exceeds the \(DurableLog.maxPayloadBytes)-byte limit")))
      return nil
    }
    var stream: Stream
    do {
      // Refused here, not in the writer, where it would roll back the whole turn's batch.
      if !endToEnd { try store.atRest.checkMayStorePlaintext() }
      stream = try lookup(name)
    } catch {
      completion(.failure(error))
      return nil
    }
    stream.lastSeq += 1
    streams[name] = stream
    let seq = UInt64(stream.lastSeq)
    pendingWrites.append(
      .append(
        streamID: stream.id, seq: stream.lastSeq, payload: payload, time: Int64(clamping: time), stream: name,
        endToEnd: endToEnd))
    if store.durability == .off {
      completion(.success(seq))
    } else {
      pendingWaiting.append(.append(seq, completion))
    }
    return seq
  }

  /// The newest seq of `stream` (appended, perhaps not yet durable); 0 for a stream with no
  /// entries or none at all. Does not create the stream.
  func lastSeq(stream name: String) throws(RealtimeError) -> UInt64 {
    if let stream = streams[name] { return UInt64(stream.lastSeq) }
    guard !closed else { throw RealtimeError(.closed, "the core is stopping") }
    guard let stream = try find(name) else { return 0 }
    streams[name] = stream
    return UInt64(stream.lastSeq)
  }

  /// Queues a write with the turn's others (one transaction, the group commit).
  func enqueue(_ write: StoreWrite) {
    guard !closed else { return }
    pendingWrites.append(write)
  }

  /// Queues the deletion of `stream`'s entries below `belowSeq`, and of those older than
  /// `olderThan` (ms since 1970, 0 for none), always keeping the newest entry. Committed with the
  /// turn's other writes; nothing happens to a stream that does not exist yet.
  func trim(stream name: String, belowSeq: UInt64, olderThan: UInt64) {
    guard !closed, let stream = streams[name], stream.lastSeq > 1 else { return }
    let newest = stream.lastSeq
    pendingWrites.append(
      .trim(
        streamID: stream.id, belowSeq: min(Int64(clamping: belowSeq), newest), keepSeq: newest,
        olderThan: Int64(clamping: olderThan)))
  }

  /// Calls `completion` once every write queued before it is committed.
  func barrier(_ completion: @escaping BarrierCompletion) {
    guard !closed else {
      return completion(RealtimeError(.closed, "the core is stopping"))
    }
    if pendingWrites.isEmpty && inFlightHead == inFlight.count {
      return completion(nil)
    }
    pendingWaiting.append(.barrier(completion))
  }

  /// Hands this turn's writes to the writer as one batch. Called at the end of every loop turn.
  func flush() {
    guard !pendingWrites.isEmpty || !pendingWaiting.isEmpty else { return }
    if pendingWrites.isEmpty {
      // Only barriers (every append adds a write). Batches settle in order, so barriers ride on
      // the newest batch in flight instead of costing a transaction; with none, they are done.
      let barriers = pendingWaiting
      pendingWaiting.removeAll(keepingCapacity: true)
      if inFlightHead < inFlight.count {
        inFlight[inFlight.count - 1].waiting += barriers
      } else {
        for case .barrier(let done) in barriers { done(nil) }
      }
      return
    }
    let id = nextBatchID
    nextBatchID += 1
    store.writer.submit(WriteBatch(id: id, writes: pendingWrites))
    inFlight.append((id, pendingWaiting))
    pendingWrites.removeAll(keepingCapacity: true)
    pendingWaiting.removeAll(keepingCapacity: true)
  }

  /// Whether the writer has outcomes waiting for the loop (a lock-free hint).
  var hasOutcomes: Bool { store.outcomes.hasItems }

  /// Delivers the writer's outcomes now instead of waiting for the wake-up.
  func deliverOutcomes() { store.outcomes.drain() }

  /// True while writes are queued or committing.
  var isBusy: Bool { !pendingWrites.isEmpty || !pendingWaiting.isEmpty || inFlightHead < inFlight.count }

  /// Commits everything queued and runs every completion, blocking the loop thread until the
  /// writer is done. Used at shutdown; after it, appends fail with `.closed`.
  func drainAndClose() {
    while isBusy {
      flush()
      store.writer.waitIdle()
      store.outcomes.drain()
    }
    closed = true
    store.outcomes.close()
  }

  private func settle(_ outcomes: [BatchOutcome]) {
    var failed = false
    for outcome in outcomes {
      guard inFlightHead < inFlight.count, inFlight[inFlightHead].id == outcome.id else {
        sink(.error, "store outcome for unknown batch \(outcome.id); ignored")
        continue
      }
      let waiting = inFlight[inFlightHead].waiting
      inFlight[inFlightHead].waiting = []
      inFlightHead += 1
      if outcome.error != nil { failed = true }
      for waiter in waiting {
        switch waiter {
        case .append(let seq, let done):
          done(outcome.error.map { .failure($0) } ?? .success(seq))
        case .barrier(let done):
          done(outcome.error)
        }
      }
    }
    if inFlightHead == inFlight.count {
      inFlight.removeAll(keepingCapacity: true)
      inFlightHead = 0
    }
    if failed {
      // Seqs handed out for the failed batch were never stored: forget what we cached and read
      // the truth back once later batches (which the writer refuses if they would leave a gap)
      // are settled.
      streams.removeAll()
      nextStreamID = nil
      resyncing = true
    }
  }

  private func lookup(_ name: String) throws(RealtimeError) -> Stream {
    if let stream = streams[name] { return stream }
    if let found = try find(name) { return found }
    let id = try allocateStreamID()
    pendingWrites.append(.createStream(id: id, name: name))
    return Stream(id: id, lastSeq: 0)
  }

  /// Reads a stream's id and last seq from the database; nil if it has none.
  private func find(_ name: String) throws(RealtimeError) -> Stream? {
    if resyncing {
      // After a failure, let the writer finish what it holds so the database shows every
      // committed entry before seqs are read back.
      store.writer.waitIdle()
      resyncing = false
    }
    return try store.read { db throws(RealtimeError) -> Stream? in
      let stmt = try db.prepare("SELECT id FROM rt_streams WHERE name = ?1")
      try stmt.bind(1, name)
      guard try stmt.step() else { return nil }
      let id = stmt.int64(0)
      let last = try db.prepare("SELECT coalesce(max(seq), 0) FROM rt_log WHERE stream_id = ?1")
      try last.bind(1, id)
      _ = try last.step()
      return Stream(id: id, lastSeq: last.int64(0))
    }
  }

  private func allocateStreamID() throws(RealtimeError) -> Int64 {
    let id: Int64
    if let next = nextStreamID {
      id = next
    } else {
      id = try store.read { db throws(RealtimeError) in
        try db.scalar("SELECT coalesce(max(id), 0) + 1 FROM rt_streams") ?? 1
      }
    }
    nextStreamID = id + 1
    return id
  }

  /// Reads up to `limit` entries of `stream` with seq > `after`, oldest first. Any thread.
  static func read(
    _ store: Store, stream: String, after: UInt64, limit: Int
  ) throws(RealtimeError) -> [(seq: UInt64, payload: [UInt8])] {
    guard limit > 0, limit <= 10_000 else {
      throw RealtimeError(.invalidArgument, "limit must be 1 to 10000")
    }
    guard after <= UInt64(Int64.max) else {
      throw RealtimeError(.invalidArgument, "seq \(after) is out of range")
    }
    return try store.read { db throws(RealtimeError) in
      let stmt = try db.prepare(
        """
        SELECT l.seq, l.payload, l.key_id FROM rt_log l JOIN rt_streams s ON s.id = l.stream_id
        WHERE s.name = ?1 AND l.seq > ?2 ORDER BY l.seq LIMIT ?3
        """)
      try stmt.bind(1, stream)
      try stmt.bind(2, Int64(after))
      try stmt.bind(3, Int64(limit))
      var rows: [(seq: UInt64, payload: [UInt8])] = []
      while try stmt.step() {
        let seq = stmt.int64(0)
        let payload = try AtRest.open(
          stmt.bytes(1), keyID: stmt.int64(2), for: .entry(stream, seq), keyring: store.atRest.keyring)
        rows.append((UInt64(seq), payload))
      }
      return rows
    }
  }

  /// One stored entry.
  struct Entry: Equatable {
    let seq: UInt64
    let payload: [UInt8]
    /// When it was appended, in ms since 1970 (0 if not stamped).
    let time: UInt64
  }

  /// Up to `limit` entries of `stream`, oldest first: those with seq > `after`, or, with `before`,
  /// the newest ones with seq < `before`. Any thread.
  static func entries(
    _ store: Store, stream: String, after: UInt64 = 0, before: UInt64? = nil, limit: Int
  ) throws(RealtimeError) -> [Entry] {
    guard limit > 0, limit <= 10_000 else {
      throw RealtimeError(.invalidArgument, "limit must be 1 to 10000")
    }
    guard after <= UInt64(Int64.max), (before ?? 0) <= UInt64(Int64.max) else {
      throw RealtimeError(.invalidArgument, "seq is out of range")
    }
    return try store.read { db throws(RealtimeError) in
      let stmt: SQLiteStatement
      if let before {
        stmt = try db.prepare(
          """
          SELECT l.seq, l.payload, l.time, l.key_id FROM rt_log l JOIN rt_streams s ON s.id = l.stream_id
          WHERE s.name = ?1 AND l.seq > ?2 AND l.seq < ?4 ORDER BY l.seq DESC LIMIT ?3
          """)
        try stmt.bind(4, Int64(before))
      } else {
        stmt = try db.prepare(
          """
          SELECT l.seq, l.payload, l.time, l.key_id FROM rt_log l JOIN rt_streams s ON s.id = l.stream_id
          WHERE s.name = ?1 AND l.seq > ?2 ORDER BY l.seq LIMIT ?3
          """)
      }
      try stmt.bind(1, stream)
      try stmt.bind(2, Int64(after))
      try stmt.bind(3, Int64(limit))
      var rows: [Entry] = []
      while try stmt.step() {
        let seq = stmt.int64(0)
        let payload = try AtRest.open(
          stmt.bytes(1), keyID: stmt.int64(3), for: .entry(stream, seq), keyring: store.atRest.keyring)
        rows.append(Entry(seq: UInt64(seq), payload: payload, time: UInt64(max(stmt.int64(2), 0))))
      }
      if before != nil { rows.reverse() }
      return rows
    }
  }
}
