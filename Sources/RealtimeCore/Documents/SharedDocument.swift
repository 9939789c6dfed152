import CSodium

/// A change to a shared document: the update that made it, and whether this replica made it
/// (a commit) or received it (from a client or the host's `apply`).
public struct DocumentChange: Sendable {
  public let document: String
  public let update: [UInt8]
  public let local: Bool
}

/// A replicated document the core keeps: one in-memory replica per document id, shared by the
/// host's handles and the protocol's clients, persisted as an update log with snapshots. Any
/// thread: each call takes the document's lock. Updates made here (commits) or received
/// (`apply`) are persisted and passed to the document's subscribed clients on the loop, batched
/// per loop turn.
public final class SharedDocument: @unchecked Sendable {
  public let id: String
  public let kind: DocumentKind

  struct State {
    var document: any ReplicatedDocument
    /// Updates not yet handed to the store and the clients, back to back in one buffer (an
    /// editor commits one per keystroke: no allocation each), and where each is, with the
    /// session that sent it (0: this replica or the host).
    var unflushedBytes: [UInt8] = []
    var unflushed: [UnflushedUpdate] = []
    var flushScheduled = false
    var lastSeq: Int64
    var entriesSinceSnapshot: Int
    var bytesSinceSnapshot: Int
    var observers: [UInt64: @Sendable (DocumentChange) -> Void] = [:]
    var nextObserver: UInt64 = 1
    /// Host handles and client subscriptions holding the document open.
    var holders = 0
  }

  /// Where an update sits in `State.unflushedBytes`.
  struct UnflushedUpdate {
    var start: Int
    var length: Int
    var origin: UInt64
    var range: Range<Int> { start..<(start + length) }
  }

  let state: Locked<State>
  /// Where a file document's chunks are kept (nil for documents outside a core: tests).
  let chunks: ChunkRepository?
  /// Asks the hub to flush this document on the loop (once per batch of updates); false when
  /// the loop is not running, and the updates wait for the next change or the last close.
  private let schedule: @Sendable (SharedDocument) -> Bool

  init(
    id: String, kind: DocumentKind, document: any ReplicatedDocument, lastSeq: Int64, entriesSinceSnapshot: Int,
    chunks: ChunkRepository? = nil, schedule: @escaping @Sendable (SharedDocument) -> Bool
  ) {
    self.id = id
    self.kind = kind
    self.chunks = chunks
    self.schedule = schedule
    state = Locked(
      State(document: document, lastSeq: lastSeq, entriesSinceSnapshot: entriesSinceSnapshot, bytesSinceSnapshot: 0))
  }

  /// A fresh random replica id: each time a document is loaded it edits as a new replica, so a
  /// crash that lost uncommitted edits can never make a clock repeat.
  static func freshReplica() -> ReplicaID {
    var bytes = [UInt8](repeating: 0, count: 8)
    randombytes_buf(&bytes, 8)
    return ReplicaID(bytes.reduce(0) { $0 << 8 | UInt64($1) })
  }

  // MARK: Editing

  /// Runs `body` with the text document under the lock. Edits stay in the open transaction until
  /// `commit`. Throws `.invalidArgument` for a document of another kind.
  public func withText<T>(_ body: (TextDocument) throws(RealtimeError) -> T) throws(RealtimeError) -> T {
    try state.withLock { s throws(RealtimeError) -> T in
      guard let text = s.document as? TextDocument else {
        throw RealtimeError(.invalidArgument, "document '\(id)' is not a text document")
      }
      return try body(text)
    }
  }

  /// Runs `body` with the task list under the lock. Edits stay in the open transaction until
  /// `commit`. Throws `.invalidArgument` for a document of another kind.
  public func withTasks<T>(_ body: (TaskListDocument) throws(RealtimeError) -> T) throws(RealtimeError) -> T {
    try state.withLock { s throws(RealtimeError) -> T in
      guard let tasks = s.document as? TaskListDocument else {
        throw RealtimeError(.invalidArgument, "document '\(id)' is not a task list")
      }
      return try body(tasks)
    }
  }

  /// Runs `body` with the file document under the lock. A replacement stays in the open
  /// transaction until `commit`. Throws `.invalidArgument` for a document of another kind.
  public func withFile<T>(_ body: (FileDocument) throws(RealtimeError) -> T) throws(RealtimeError) -> T {
    try state.withLock { s throws(RealtimeError) -> T in
      guard let file = s.document as? FileDocument else {
        throw RealtimeError(.invalidArgument, "document '\(id)' is not a file")
      }
      return try body(file)
    }
  }

  /// Runs `body` with the text document and a `commit` that ends the transaction and hands its
  /// update to the closure it is given (false: no changes), all under one lock: a batch of edits
  /// and commits costs one lock and no allocation per commit. Observers hear of the commits after
  /// `body` returns, even when it throws (the commits before stay made).
  public func withTextTransactions<T>(
    _ body: (TextDocument, _ commit: (_ update: (UnsafeBufferPointer<UInt8>) -> Void) -> Bool) throws(RealtimeError)
      -> T
  ) throws(RealtimeError) -> T {
    var committed: [[UInt8]] = []
    var observers: [@Sendable (DocumentChange) -> Void] = []
    defer { for update in committed { notify(observers, DocumentChange(document: id, update: update, local: true)) } }
    return try state.withLock { s throws(RealtimeError) -> T in
      guard let text = s.document as? TextDocument else {
        throw RealtimeError(.invalidArgument, "document '\(id)' is not a text document")
      }
      observers = Array(s.observers.values)
      let watched = !observers.isEmpty
      return try body(text) { hand in
        let start = s.unflushedBytes.count
        guard text.commit(into: &s.unflushedBytes) else { return false }
        record(from: start, origin: 0, &s)
        let range = start..<s.unflushedBytes.count
        s.unflushedBytes.withUnsafeBufferPointer { hand(UnsafeBufferPointer(rebasing: $0[range])) }
        if watched { committed.append(Array(s.unflushedBytes[range])) }
        return true
      }
    }
  }

  /// Commits the local edits: returns their update (nil when there were none), which is
  /// persisted and sent to the document's clients.
  @discardableResult
  public func commit() -> [UInt8]? {
    let (update, observers) = state.withLock { s -> ([UInt8]?, [@Sendable (DocumentChange) -> Void]) in
      let start = s.unflushedBytes.count
      guard s.document.commit(into: &s.unflushedBytes) else { return (nil, []) }
      record(from: start, origin: 0, &s)
      return (Array(s.unflushedBytes[start...]), Array(s.observers.values))
    }
    if let update { notify(observers, DocumentChange(document: id, update: update, local: true)) }
    return update
  }

  /// Applies an update from another replica (see `TextDocument.apply`): persisted and passed on
  /// to the document's clients. Throws, changing nothing, for a malformed or hostile update.
  public func apply(_ update: [UInt8]) throws(RealtimeError) { try apply(update, origin: 0) }

  func apply(_ update: [UInt8], origin: UInt64) throws(RealtimeError) {
    try DocumentLimits.check(update: update)
    let observers = try state.withLock { s throws(RealtimeError) -> [@Sendable (DocumentChange) -> Void] in
      try s.document.apply(update)
      let start = s.unflushedBytes.count
      s.unflushedBytes += update
      record(from: start, origin: origin, &s)
      return Array(s.observers.values)
    }
    notify(observers, DocumentChange(document: id, update: update, local: false))
  }

  /// Notes the update appended to `unflushedBytes` from `start`, and schedules a flush.
  private func record(from start: Int, origin: UInt64, _ s: inout State) {
    s.unflushed.append(UnflushedUpdate(start: start, length: s.unflushedBytes.count - start, origin: origin))
    if !s.flushScheduled { s.flushScheduled = schedule(self) }
  }

  private func notify(_ observers: [@Sendable (DocumentChange) -> Void], _ change: DocumentChange) {
    for observer in observers { observer(change) }
  }

  // MARK: Sync

  /// What this replica has seen.
  public var stateVector: VersionVector { state.withLock { $0.document.stateVector } }

  /// Everything here that a replica that has seen `seen` lacks, as one update.
  public func diff(since seen: VersionVector) -> [UInt8] { state.withLock { $0.document.diff(since: seen) } }

  /// The whole state, canonical.
  public func snapshot() -> [UInt8] { state.withLock { $0.document.snapshot() } }

  /// Remote changes waiting for what they depend on.
  public var waiting: Int { state.withLock { $0.document.waiting } }

  // MARK: Observers

  /// Calls `observer` after every change, on the thread that made it (the loop thread for
  /// clients' updates), outside the document's lock. Returns a token for `removeObserver`.
  public func addObserver(_ observer: @escaping @Sendable (DocumentChange) -> Void) -> UInt64 {
    state.withLock { s in
      let token = s.nextObserver
      s.nextObserver += 1
      s.observers[token] = observer
      return token
    }
  }

  /// Stops calling the observer `token`.
  public func removeObserver(_ token: UInt64) { state.withLock { _ = $0.observers.removeValue(forKey: token) } }
}
