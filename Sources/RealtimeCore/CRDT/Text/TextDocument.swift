/// A plain-text document edited concurrently on many replicas: a sequence CRDT of Unicode
/// scalars ordered by YATA's rule (the one Yjs uses), which keeps concurrent insertions at one
/// place from interleaving, stored as runs so typing costs no more than extending a run.
///
/// Local edits (`insert`, `delete`) gather into a transaction until `commit` encodes them as an
/// update for the other replicas. `apply` takes updates in any order, duplicated or not: what
/// depends on something not yet here waits, and an update that does not decode, breaks a limit,
/// or claims this replica's own future changes, is refused whole. `stateVector` and
/// `diff(since:)` bring a replica up to date in one round trip; `snapshot()` is the whole state
/// in a compact canonical form that loads without replaying anything. Not thread-safe.
public final class TextDocument {
  /// Not checked dynamically: a class's stored property otherwise pays a runtime exclusivity
  /// check (`swift_beginAccess`) on every access, about 12% of a keystroke. Every access below is
  /// one call into `TextReplica`, which never calls back into this object or out to code that
  /// could (it takes no closures from callers), so accesses never overlap; the static checks
  /// still apply. Kept a stored property: a pointer behind `_read`/`_modify` accessors instead
  /// hits a Swift 6.3 miscompile at -Onone (swiftlang/swift#89836, a use after free of the
  /// coroutine's frame when copying a large yielded value out).
  @exclusivity(unchecked) private var state: TextReplica

  /// An empty document edited by `replica`. A replica id must not be reused by a replica that
  /// lost its state: its new edits would collide with the old ones.
  public init(replica: ReplicaID) { state = TextReplica(replica: replica, sequence: TextSequence()) }

  /// A document loaded from `snapshot`, edited from now on by `replica`. Throws for a snapshot
  /// that does not decode or is inconsistent, or that passes the document's limits.
  public init(replica: ReplicaID, snapshot: [UInt8]) throws(RealtimeError) {
    state = try TextReplica(replica: replica, snapshot: snapshot)
  }

  /// This replica.
  public var replica: ReplicaID { state.replica }
  /// The text.
  public var text: String { state.text }
  /// Length in Unicode scalars.
  public var count: Int { state.count }
  /// Length in UTF-16 code units.
  public var utf16Count: Int { state.utf16Count }
  /// Remote runs and deletions waiting for what they depend on.
  public var waiting: Int { state.waiting }
  /// Whether there are local edits not yet committed.
  public var hasChanges: Bool { state.hasChanges }
  /// What this replica has: per replica, how many of its characters are here.
  public var stateVector: VersionVector { state.stateVector }
  var sequence: TextSequence { state.sequence }

  /// Inserts `text` at `position`, counted in Unicode scalars (clamped to the text). Throws
  /// `.tooLarge` past the document's limits, changing nothing.
  public func insert(_ text: String, at position: Int) throws(RealtimeError) {
    try state.insert(text, at: position)
  }

  /// Inserts `text` at `offset`, counted in UTF-16 code units.
  public func insert(_ text: String, atUTF16 offset: Int) throws(RealtimeError) {
    try state.insert(text, atUTF16: offset)
  }

  /// Deletes `length` Unicode scalars from `position` (clamped to the text).
  public func delete(at position: Int, length: Int) { state.delete(at: position, length: length) }

  /// Deletes `length` UTF-16 code units from `offset`; a surrogate pair cut in two is deleted
  /// whole.
  public func delete(atUTF16 offset: Int, length: Int) { state.delete(atUTF16: offset, length: length) }

  /// Appends the update of the local edits since the last commit to `out` and starts a new
  /// transaction; false (and nothing appended) when there were none.
  @discardableResult
  public func commit(into out: inout [UInt8]) -> Bool { state.commit(into: &out) }

  /// The update of the local edits since the last commit, or nil when there were none.
  public func commit() -> [UInt8]? { state.commit() }

  /// An update holding everything here that a replica with state vector `seen` lacks.
  public func diff(since seen: VersionVector) -> [UInt8] { state.diff(since: seen) }

  /// Applies an update from another replica: in any order, duplicates included; what depends on
  /// something not yet here waits for it. Throws, changing nothing, for an update that does not
  /// decode, would pass the document's limits, or claims edits of this replica it never made.
  public func apply(_ update: [UInt8]) throws(RealtimeError) { try state.apply(update) }

  /// The document's state, canonical: equal states give equal bytes.
  public func snapshot() -> [UInt8] { state.snapshot() }
}
