/// A binary file edited on many devices: its content is a manifest (size and chunk hashes) in a
/// multi-value register. Two devices replacing the file concurrently both keep their version —
/// the newest is the file, the others are its conflict copies — until someone replaces it again
/// (or resolves the conflict by keeping one version).
///
/// The document holds manifests only; the chunks live in a `ChunkStore` or, in the core, the
/// store's chunk table, and travel by hash. `replace` gathers into a transaction until `commit`;
/// `apply` merges another replica's state in any order, duplicates included; `stateVector` and
/// `diff(since:)` sync in one round trip; `snapshot()` is canonical. Not thread-safe.
public final class FileDocument {
  var state: FileReplica {
    didSet { liveChunks = nil }
  }
  /// The chunks of every live version, built when first asked for after a change: a download
  /// asks once per chunk, and scanning every manifest each time made fetching a file
  /// quadratic in its chunks.
  private var liveChunks: Set<ChunkHash>?
  /// Milliseconds since 1970: bounds the timestamps of what is applied, and of local writes.
  var wallClock: () -> UInt64 = systemWallMs

  /// An empty file edited by `replica`. A replica id must not be reused by a replica that lost
  /// its state: its new replacements would collide with the old ones.
  public init(replica: ReplicaID) { state = FileReplica(replica: replica) }

  /// A file loaded from `snapshot`, edited from now on by `replica`. Throws for bytes that do
  /// not decode or pass the limits.
  public convenience init(replica: ReplicaID, snapshot: [UInt8]) throws(RealtimeError) {
    try self.init(replica: replica, snapshot: snapshot, wallClock: systemWallMs)
  }

  /// A file loaded from `snapshot`, with its own wall clock (tests and fuzzing).
  init(replica: ReplicaID, snapshot: [UInt8], wallClock: @escaping () -> UInt64) throws(RealtimeError) {
    state = try FileReplica(replica: replica, snapshot: snapshot)
    self.wallClock = wallClock
  }

  /// An empty file with its own wall clock (tests and fuzzing).
  init(replica: ReplicaID, wallClock: @escaping () -> UInt64) {
    state = FileReplica(replica: replica)
    self.wallClock = wallClock
  }

  /// This replica.
  public var replica: ReplicaID { state.replica }
  /// The file's current version (the last writer's); nil before the first replacement.
  public var manifest: FileManifest? { state.ordered.first?.manifest }
  /// Every live version, the current one first, then the conflict copies, newest first.
  public var versions: [FileManifest] { state.ordered.map(\.manifest) }
  /// Whether `hash` is a chunk of one of the live versions.
  public func holds(_ hash: ChunkHash) -> Bool {
    if let liveChunks { return liveChunks.contains(hash) }
    let all = Set(state.versions.values.flatMap(\.value.chunks))
    liveChunks = all
    return all.contains(hash)
  }

  /// The versions written concurrently with the current one, newest first.
  public var conflictCopies: [FileManifest] { Array(versions.dropFirst()) }
  /// Whether a replacement is not yet committed.
  public var hasChanges: Bool { state.open }
  /// Remote changes waiting for what they depend on: always 0 (states merge whole).
  public var waiting: Int { 0 }
  /// Every replacement this replica has seen.
  public var stateVector: VersionVector { state.context }

  /// Replaces the file with `manifest`, overwriting every version seen here (conflict copies
  /// included). Throws `.tooLarge` past the limits, `.corrupt` for a size its chunks cannot hold.
  public func replace(with manifest: FileManifest) throws(RealtimeError) {
    try state.replace(with: manifest, wallMs: wallClock())
  }

  /// Resolves a conflict by keeping version `index` of `versions` (0 is the current one): a
  /// replacement with that version's manifest. Throws `.notFound` for an index out of range.
  public func resolve(keeping index: Int) throws(RealtimeError) {
    let all = versions
    guard index >= 0, index < all.count else {
      throw RealtimeError(.notFound, "the file has \(all.count) versions; there is no version \(index)")
    }
    try replace(with: all[index])
  }

  /// The state as an update, or nil when nothing was replaced since the last commit.
  public func commit() -> [UInt8]? { state.commit() }

  /// The whole state when a replica that has seen `seen` lacks any of it, else an empty update.
  public func diff(since seen: VersionVector) -> [UInt8] { state.diff(since: seen) }

  /// Merges another replica's update or diff. Throws, changing nothing, for bytes that do not
  /// decode, claim this replica's own future replacements, hold a timestamp more than a day
  /// ahead of the wall clock, or pass the limits.
  public func apply(_ update: [UInt8]) throws(RealtimeError) { try state.apply(update, wallMs: wallClock()) }

  /// What `update` brings: whether it holds a write this replica has not seen (else applying
  /// it changes nothing), and the versions it would add (to check their chunks are stored
  /// before accepting it). Throws as `apply` for bytes that do not decode.
  public func news(in update: [UInt8]) throws(RealtimeError) -> (isNew: Bool, added: [FileManifest]) {
    let incoming = try FileReplica.decodeState(update, format: FileReplica.updateFormat, wallMs: wallClock())
    let added = incoming.versions.filter { state.versions[$0.key] == nil && !state.context.contains($0.key) }
    return (!state.context.includes(incoming.context), added.map(\.value.value))
  }

  /// The document's state, canonical: equal states give equal bytes.
  public func snapshot() -> [UInt8] { state.snapshot() }
}
