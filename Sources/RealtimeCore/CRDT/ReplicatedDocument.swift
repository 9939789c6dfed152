/// The kinds of replicated document the core keeps and syncs.
public enum DocumentKind: Int, Sendable, CaseIterable {
  /// Plain text (`TextDocument`).
  case text = 1
  /// A list of tasks (`TaskListDocument`).
  case tasks = 2
  /// A binary file (`FileDocument`): versions of chunk manifests; chunks travel by hash.
  case file = 3
}

/// What the core, the C API and the protocol need of a document of any kind: local changes
/// committed to updates, one-round-trip sync by state vector and diff, updates applied in any
/// order, and a snapshot to persist. Not thread-safe: the core serializes access.
protocol ReplicatedDocument: AnyObject {
  /// What this replica has seen, to send to another that then replies with a diff.
  var stateVector: VersionVector { get }
  /// Whether there are local changes not yet committed.
  var hasChanges: Bool { get }
  /// Remote changes waiting for what they depend on.
  var waiting: Int { get }
  /// The update of the local changes since the last commit (nil: none).
  func commit() -> [UInt8]?
  /// Appends the update of the local changes since the last commit to `out`; false (nothing
  /// appended) when there were none.
  func commit(into out: inout [UInt8]) -> Bool
  /// Everything here that a replica that has seen `seen` lacks, as one update.
  func diff(since seen: VersionVector) -> [UInt8]
  /// Applies an update from another replica; throws, changing nothing, for a bad one.
  func apply(_ update: [UInt8]) throws(RealtimeError)
  /// The whole state, canonical.
  func snapshot() -> [UInt8]
}

extension ReplicatedDocument {
  /// `commit()`, appended: for kinds without a cheaper way.
  func commit(into out: inout [UInt8]) -> Bool {
    guard let update = commit() else { return false }
    out += update
    return true
  }
}

extension TextDocument: ReplicatedDocument {}
extension TaskListDocument: ReplicatedDocument {}
extension FileDocument: ReplicatedDocument {}
