/// The documents a core has open: loads each from its snapshot plus the updates after it, keeps
/// one replica per id while anyone holds it, and on the loop writes each document's new updates
/// as one log entry per turn, compacting into a snapshot every `compactEntries` entries or
/// `compactBytes` bytes.
final class DocumentHub: @unchecked Sendable {
  static let compactEntries = 64
  static let compactBytes = 1 << 20
  /// Most documents open at once.
  static let maxOpen = 10_000

  private let store: Store
  private unowned let engine: Engine
  /// The chunks of the core's file documents.
  let chunks: ChunkRepository
  private let open = Locked<[String: SharedDocument]>([:])
  /// Per document, the protocol sessions syncing it. Loop thread only.
  private var clients: [String: [UInt64: any DocumentClient]] = [:]

  init(store: Store, engine: Engine) {
    self.store = store
    self.engine = engine
    chunks = ChunkRepository(store: store, engine: engine)
  }

  /// The document `id`, loaded or created as `kind`, held once more (release with `close`).
  /// Throws `.invalidArgument` for a bad id or a document of another kind, `.corrupt` for a
  /// stored state that does not load.
  func open(_ id: String, kind: DocumentKind) throws(RealtimeError) -> SharedDocument {
    try DocumentLimits.check(id: id)
    return try open.withLock { docs throws(RealtimeError) -> SharedDocument in
      if let doc = docs[id] {
        guard doc.kind == kind else {
          throw RealtimeError(.invalidArgument, "document '\(id)' is a \(doc.kind) document, not \(kind)")
        }
        doc.state.withLock { $0.holders += 1 }
        return doc
      }
      guard docs.count < Self.maxOpen else {
        throw RealtimeError(.noMemory, "\(Self.maxOpen) documents are open already")
      }
      let doc = try load(id, kind: kind)
      doc.state.withLock { $0.holders = 1 }
      docs[id] = doc
      return doc
    }
  }

  /// The chunks every file document references: the open ones as they are in memory, the
  /// others as stored. Call holding `chunks.gate` alone, so no new reference appears meanwhile.
  func referencedChunks() throws(RealtimeError) -> Set<ChunkHash> {
    let inMemory = open.withLock { docs in docs.values.filter { $0.kind == .file } }
    var referenced: Set<ChunkHash> = []
    var seen: Set<String> = []
    for doc in inMemory {
      seen.insert(doc.id)
      for version in try doc.withFile({ $0.versions }) { referenced.formUnion(version.chunks) }
    }
    for id in try store.documentIDs(kind: DocumentKind.file.rawValue) where !seen.contains(id) {
      guard let stored = try store.loadDocument(id) else { continue }
      let file: FileDocument
      if let snapshot = stored.snapshot, !snapshot.isEmpty {
        file = try FileDocument(replica: ReplicaID(0), snapshot: snapshot)
      } else {
        file = FileDocument(replica: ReplicaID(0))
      }
      for entry in stored.updates {
        for update in try UpdateBatch.decode(entry.body) { try file.apply(update) }
      }
      for version in file.versions { referenced.formUnion(version.chunks) }
    }
    return referenced
  }

  /// Passes `id`'s changes to `client` from now on. Loop thread.
  func addClient(_ client: any DocumentClient, of id: String) { clients[id, default: [:]][client.id] = client }

  /// Every client of every document (an access rule changed: all of them are checked again).
  /// Loop thread.
  func allClients() -> [any DocumentClient] { clients.values.flatMap(\.values) }

  /// Stops passing `id`'s changes to `client`. Loop thread.
  func removeClient(_ client: any DocumentClient, of id: String) {
    clients[id]?[client.id] = nil
    if clients[id]?.isEmpty == true { clients[id] = nil }
  }

  /// Releases one hold on `doc`; after the last, the loop writes its changes and a snapshot and
  /// then forgets it — unless it was opened again meanwhile, which keeps the same replica (a
  /// second copy loaded from the store before that write would miss the changes, and reuse the
  /// log's next seq).
  func close(_ doc: SharedDocument) {
    let last = doc.state.withLock { s -> Bool in
      s.holders -= 1
      return s.holders == 0
    }
    guard last else { return }
    _ = post { [self] in
      flush(doc, compact: true)
      // Forgotten only once those writes are committed, so a later load reads them.
      engine.log.barrier { [self] _ in
        open.withLock { docs in
          if doc.state.withLock({ $0.holders }) <= 0, docs[doc.id] === doc { docs[doc.id] = nil }
        }
      }
    }
  }

  private func load(_ id: String, kind: DocumentKind) throws(RealtimeError) -> SharedDocument {
    // Refused here rather than by the writer, whose refusal would roll back a whole group commit.
    try store.atRest.checkMayStorePlaintext()
    let replica = SharedDocument.freshReplica()
    let schedule: @Sendable (SharedDocument) -> Bool = { [unowned self] doc in
      post { [self] in flush(doc, compact: false) }
    }
    guard let stored = try store.loadDocument(id) else {
      let document = Self.empty(kind, replica)
      guard post({ [engine] in engine.log.enqueue(.docCreate(id: id, kind: kind.rawValue)) }) else {
        throw RealtimeError(.state, "the core is not running; call start or attach first")
      }
      return SharedDocument(
        id: id, kind: kind, document: document, lastSeq: 0, entriesSinceSnapshot: 0, chunks: chunks,
        schedule: schedule)
    }
    guard stored.kind == kind.rawValue else {
      throw RealtimeError(.invalidArgument, "document '\(id)' is stored as kind \(stored.kind), not \(kind)")
    }
    let document: any ReplicatedDocument
    if let snapshot = stored.snapshot, !snapshot.isEmpty {
      document = try Self.load(kind, replica, snapshot)
    } else {
      document = Self.empty(kind, replica)
    }
    for entry in stored.updates {
      for update in try UpdateBatch.decode(entry.body) { try document.apply(update) }
    }
    return SharedDocument(
      id: id, kind: kind, document: document, lastSeq: stored.lastSeq, entriesSinceSnapshot: stored.updates.count,
      chunks: chunks, schedule: schedule)
  }

  private static func empty(_ kind: DocumentKind, _ replica: ReplicaID) -> any ReplicatedDocument {
    switch kind {
    case .text: TextDocument(replica: replica)
    case .tasks: TaskListDocument(replica: replica)
    case .file: FileDocument(replica: replica)
    }
  }

  private static func load(_ kind: DocumentKind, _ replica: ReplicaID, _ snapshot: [UInt8]) throws(RealtimeError)
    -> any ReplicatedDocument
  {
    switch kind {
    case .text: try TextDocument(replica: replica, snapshot: snapshot)
    case .tasks: try TaskListDocument(replica: replica, snapshot: snapshot)
    case .file: try FileDocument(replica: replica, snapshot: snapshot)
    }
  }

  /// Runs `job` on the loop; false when the loop is not running.
  private func post(_ job: @escaping @Sendable () -> Void) -> Bool { engine.mailbox.post(job) }

  /// On the loop: writes `doc`'s new updates as one log entry, hands them to its clients, and
  /// writes a snapshot when the log has grown enough since the last (or when `compact`).
  private func flush(_ doc: SharedDocument, compact: Bool) {
    let work = doc.state.withLock {
      s -> (bytes: [UInt8], updates: [SharedDocument.UnflushedUpdate], seq: Int64, snapshot: [UInt8]?) in
      var bytes: [UInt8] = []
      var updates: [SharedDocument.UnflushedUpdate] = []
      swap(&bytes, &s.unflushedBytes)
      swap(&updates, &s.unflushed)
      s.flushScheduled = false
      var seq = s.lastSeq
      if !updates.isEmpty {
        seq += 1
        s.lastSeq = seq
        s.entriesSinceSnapshot += 1
        s.bytesSinceSnapshot += bytes.count
      }
      let due =
        s.entriesSinceSnapshot >= Self.compactEntries || s.bytesSinceSnapshot >= Self.compactBytes
        || (compact && s.entriesSinceSnapshot > 0)
      var snapshot: [UInt8]?
      if due && seq > 0 {
        snapshot = s.document.snapshot()
        s.entriesSinceSnapshot = 0
        s.bytesSinceSnapshot = 0
      }
      return (bytes, updates, seq, snapshot)
    }
    if !work.updates.isEmpty {
      let body = UpdateBatch.encode(work.updates.map { work.bytes[$0.range] })
      engine.log.enqueue(.docAppend(id: doc.id, seq: work.seq, body: body))
      if let watching = clients[doc.id] {
        for client in watching.values {
          for update in work.updates where update.origin != client.id {
            client.deliverDocumentUpdate(doc.id, work.bytes[update.range])
          }
        }
      }
    }
    if let snapshot = work.snapshot {
      engine.log.enqueue(.docCompact(id: doc.id, snapshot: snapshot, throughSeq: work.seq))
    }
  }
}

/// A protocol session that syncs documents: it hears of every change it did not send itself.
protocol DocumentClient: AnyObject {
  var id: UInt64 { get }
  func deliverDocumentUpdate(_ id: String, _ update: ArraySlice<UInt8>)
}
