#if canImport(Glibc)
  import Glibc
#endif

/// A list of tasks edited concurrently on many replicas: task records (`TaskRecord`, merged
/// field by field) keyed by id, synced as delta states under a document-level causal clock.
///
/// Local edits (`set`, `insert`, `remove`) gather into a transaction until `commit` encodes the
/// full states of the tasks it changed as one update, under this replica's next document
/// counter. `apply` takes updates in any order, duplicated or not: an update whose replica's
/// previous commit is not here yet waits for it, and one that does not decode, breaks a limit,
/// or claims this replica's own future edits, is refused whole. `stateVector` and
/// `diff(since:)` bring a replica up to date in one round trip; `snapshot()` is the whole state,
/// canonical, and loads without replaying anything. Not thread-safe.
public final class TaskListDocument {
  var state: TaskListReplica
  /// Milliseconds since 1970: bounds the timestamps of what is applied, and of local writes.
  var wallClock: () -> UInt64 = systemWallMs

  /// An empty task list edited by `replica`. A replica id must not be reused by a replica that
  /// lost its state: its new edits would collide with the old ones.
  public init(replica: ReplicaID) { state = TaskListReplica(replica: replica) }

  /// A task list loaded from `snapshot`, edited from now on by `replica`. Throws for a snapshot
  /// that does not decode or is inconsistent, or that passes the document's limits.
  public convenience init(replica: ReplicaID, snapshot: [UInt8]) throws(RealtimeError) {
    try self.init(replica: replica, snapshot: snapshot, wallClock: systemWallMs)
  }

  /// A task list loaded from `snapshot`, with its own wall clock (tests and fuzzing).
  init(replica: ReplicaID, snapshot: [UInt8], wallClock: @escaping () -> UInt64) throws(RealtimeError) {
    state = try TaskListReplica(replica: replica, snapshot: snapshot, wallMs: wallClock())
    self.wallClock = wallClock
  }

  /// This replica.
  public var replica: ReplicaID { state.replica }
  /// The wall clock edits are stamped with, in ms since 1970.
  public var now: UInt64 { wallClock() }
  /// How many tasks there are (soft-deleted ones included).
  public var count: Int { state.tasks.count }
  /// The task ids, ascending by their UTF-8 bytes.
  public var taskIDs: [String] {
    state.tasks.keys.sorted { $0.lexicographicallyPrecedes($1) }.map { String(decoding: $0, as: UTF8.self) }
  }
  /// Task `id`'s state, or nil when there is no such task.
  public func record(_ id: String) -> TaskRecord? { state.tasks[Array(id.utf8)]?.record }
  /// Remote updates waiting for an earlier commit of their replica.
  public var waiting: Int { state.waiting }
  /// Whether there are local edits not yet committed.
  public var hasChanges: Bool { state.hasChanges }
  /// What this replica has integrated: per replica, its commits 1 through the counter.
  public var stateVector: VersionVector { state.stateVector }

  /// Sets a field of task `taskID`, creating the task if missing, as written at `wallMs` (ms
  /// since 1970, at most a day ahead of the clock). The title and the description are text:
  /// setting one replaces what differs between its text here and the new one (see
  /// `TaskRecord.set`), so two replicas that set different texts concurrently end with both. Throws `.invalidArgument` for an id that is
  /// not 1 to 256 bytes without NUL or a time too far ahead, `.tooLarge` for a value or a task
  /// past the limits; nothing changes then.
  public func set(_ field: TaskRecord.Field, of taskID: String, wallMs: UInt64) throws(RealtimeError) {
    try state.set(field, of: taskID, wallMs: wallMs, now: wallClock())
  }

  /// Inserts `text` into the title or description of task `taskID` (created if missing) at
  /// `position`, counted in Unicode scalars (clamped to the text). The field is text merged
  /// character by character: concurrent edits elsewhere in it survive. Throws as `set`
  /// (`.tooLarge` past a text field's limit: 1,048,576 characters, deleted ones included).
  public func insert(
    _ text: String, into field: TaskRecord.TextField, of taskID: String, at position: Int
  ) throws(RealtimeError) {
    try state.insert(text, into: field, of: taskID, at: position, utf16: false)
  }

  /// Inserts `text` into a text field of task `taskID` at `offset`, counted in UTF-16 code units.
  public func insert(
    _ text: String, into field: TaskRecord.TextField, of taskID: String, atUTF16 offset: Int
  ) throws(RealtimeError) {
    try state.insert(text, into: field, of: taskID, at: offset, utf16: true)
  }

  /// Deletes `length` Unicode scalars of a text field of task `taskID` from `position` (clamped;
  /// nothing to do when the task or the characters are not there). Throws `.invalidArgument`
  /// for an invalid id.
  public func delete(
    from field: TaskRecord.TextField, of taskID: String, at position: Int, length: Int
  ) throws(RealtimeError) {
    try state.delete(from: field, of: taskID, at: position, length: length, utf16: false)
  }

  /// Deletes `length` UTF-16 code units of a text field of task `taskID` from `offset`; a
  /// surrogate pair cut in two is deleted whole.
  public func delete(
    from field: TaskRecord.TextField, of taskID: String, atUTF16 offset: Int, length: Int
  ) throws(RealtimeError) {
    try state.delete(from: field, of: taskID, at: offset, length: length, utf16: true)
  }

  /// The text of a task's title or description, or nil when there is no such task.
  public func text(_ field: TaskRecord.TextField, of taskID: String) -> String? { record(taskID)?[field].text }

  /// Adds `element` to a set of task `taskID`, creating the task if missing. Throws as `set`.
  public func insert(_ element: String, into field: TaskRecord.SetField, of taskID: String) throws(RealtimeError) {
    try state.insert(element, into: field, of: taskID)
  }

  /// Removes `element` from a set of task `taskID` (nothing to do when it is not there). Throws
  /// `.invalidArgument` for an invalid id.
  public func remove(_ element: String, from field: TaskRecord.SetField, of taskID: String) throws(RealtimeError) {
    try state.remove(element, from: field, of: taskID)
  }

  /// The update of the tasks changed since the last commit, or nil when none changed.
  public func commit() -> [UInt8]? { state.commit() }

  /// A diff holding every task here that a commit beyond `seen` changed, with this state
  /// vector, which the receiver then takes as its own.
  public func diff(since seen: VersionVector) -> [UInt8] { state.diff(since: seen) }

  /// Applies an update or a diff from another replica: in any order, duplicates included; an
  /// update whose replica's previous commit is not here waits for it. Throws, changing nothing,
  /// for bytes that do not decode (timestamps over a day ahead of the wall clock included), that
  /// would pass the document's limits, or that claim edits of this replica it never made.
  public func apply(_ update: [UInt8]) throws(RealtimeError) { try state.apply(update, wallMs: wallClock()) }

  /// The document's state, canonical: equal states give equal bytes.
  public func snapshot() -> [UInt8] { state.snapshot() }
}

/// Milliseconds since 1970 by the system's real-time clock.
func systemWallMs() -> UInt64 {
  var now = timespec()
  clock_gettime(CLOCK_REALTIME, &now)
  return UInt64(max(0, now.tv_sec)) &* 1000 &+ UInt64(max(0, now.tv_nsec) / 1_000_000)
}
