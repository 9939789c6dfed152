/// The state and the algorithms of one replica of a binary file (`FileDocument` is its public
/// face): a multi-value register of manifests under the file's causal context. Replacing the
/// file overwrites every version this replica has seen; versions written concurrently all stay
/// (the newest by timestamp is the file, the others are its conflict copies) until a later
/// replacement has seen them.
///
/// Sync is state-based: an update is the whole state (the context and the live versions, a few
/// bytes plus 32 per chunk), so updates merge in any order, duplicated or not, with nothing to
/// wait for. Chunks travel separately, by hash (`ChunkRepository`, `chunk_get`).
struct FileReplica {
  /// Format byte of an update or diff (the state).
  static let updateFormat: UInt8 = 0x31
  /// Format byte of a snapshot (the state and whether a replacement is uncommitted).
  static let snapshotFormat: UInt8 = 0x32
  /// Live versions at most: concurrent replacements past this are refused.
  static let maxVersions = 64
  /// Chunks of one version at most (a 512 MiB file of 8 KiB chunks).
  static let maxChunks = 65_536
  /// Chunks of all live versions together, so a state always fits one stored update.
  static let maxTotalChunks = 400_000
  /// Largest file, in bytes.
  static let maxFileBytes: UInt64 = 1 << 32
  /// Largest update, diff or snapshot decoded.
  static let maxMessageBytes = DocumentLimits.maxUpdateBytes

  let replica: ReplicaID
  var clock: ReplicaClock
  /// Every replacement this state has seen.
  var context = VersionVector()
  /// The live versions: the replacement that wrote each, its timestamp and manifest.
  var versions: [Dot: Timestamped<FileManifest>] = [:]
  /// Whether a replacement is not yet committed.
  var open = false

  init(replica: ReplicaID) {
    self.replica = replica
    clock = ReplicaClock(replica)
  }

  /// The versions, newest first (by timestamp, then replacement): the first is the file.
  var ordered: [(dot: Dot, time: UInt64, manifest: FileManifest)] {
    versions.map { (dot: $0.key, time: $0.value.time, manifest: $0.value.value) }
      .sorted { ($0.time, $0.dot) > ($1.time, $1.dot) }
  }

  /// Replaces the file with `manifest` at wall time `wallMs`, overwriting every version seen.
  mutating func replace(with manifest: FileManifest, wallMs: UInt64) throws(RealtimeError) {
    try Self.check(manifest)
    let dot = context.next(replica)
    versions = [dot: Timestamped(time: clock.hlc.now(wallMs: wallMs), value: manifest)]
    open = true
  }

  /// Refuses a manifest beyond the limits or whose size its chunks cannot hold.
  static func check(_ manifest: FileManifest) throws(RealtimeError) {
    guard manifest.chunks.count <= maxChunks else {
      throw RealtimeError(.tooLarge, "a file of \(manifest.chunks.count) chunks exceeds \(maxChunks)")
    }
    guard manifest.size <= maxFileBytes else {
      throw RealtimeError(.tooLarge, "a file of \(manifest.size) bytes exceeds \(maxFileBytes)")
    }
    let count = UInt64(manifest.chunks.count)
    guard manifest.size >= count, manifest.size <= count * UInt64(ContentChunker.maxSize) else {
      throw RealtimeError(
        .corrupt, "a file of \(manifest.size) bytes cannot be \(count) chunks of 1 to \(ContentChunker.maxSize) bytes")
    }
  }

  // MARK: Sync

  /// The state as an update, or nil when nothing was replaced since the last commit.
  mutating func commit() -> [UInt8]? {
    guard open else { return nil }
    open = false
    return encodedState()
  }

  /// The whole state when `seen` lacks any of it, else the empty state (which changes nothing).
  func diff(since seen: VersionVector) -> [UInt8] {
    if seen.includes(context) { return FileReplica(replica: replica).encodedState() }
    return encodedState()
  }

  /// Merges another replica's state. Throws, changing nothing, for bytes that do not decode,
  /// that claim replacements of this replica it never made, hold a timestamp more than a day
  /// ahead of `wallMs`, or would pass the limits.
  mutating func apply(_ update: [UInt8], wallMs: UInt64) throws(RealtimeError) {
    let incoming = try Self.decodeState(update, format: Self.updateFormat, wallMs: wallMs)
    guard incoming.context[replica] <= context[replica] else {
      throw RealtimeError(
        .corrupt,
        "the update claims replacement \(incoming.context[replica]) of this replica, which made \(context[replica])")
    }
    let joined = CausalJoin.join(versions, context, incoming.versions, incoming.context)
    try Self.checkTotal(joined)
    var hlc = clock.hlc
    for version in incoming.versions.values { try hlc.observe(version.time, wallMs: wallMs) }
    clock.hlc = hlc
    versions = joined
    context.merge(incoming.context)
  }

  /// Refuses live versions beyond `maxVersions` or `maxTotalChunks`.
  static func checkTotal(_ versions: [Dot: Timestamped<FileManifest>]) throws(RealtimeError) {
    guard versions.count <= maxVersions else {
      throw RealtimeError(.tooLarge, "\(versions.count) concurrent versions of a file exceed \(maxVersions)")
    }
    let chunks = versions.values.reduce(0) { $0 + $1.value.chunks.count }
    guard chunks <= maxTotalChunks else {
      throw RealtimeError(.tooLarge, "the file's versions hold \(chunks) chunks together, over \(maxTotalChunks)")
    }
  }

  // MARK: Encoding

  /// `format vector count version*`, versions ascending by replacement (`docs/protocol.md`, "Files").
  func encodedState(format: UInt8 = updateFormat) -> [UInt8] {
    var w = ByteWriter()
    w.byte(format)
    w.counters(context.counters)
    w.varint(UInt64(versions.count))
    for (dot, version) in versions.sorted(by: { $0.key < $1.key }) {
      w.fixed64(dot.replica.raw)
      w.varint(dot.counter)
      w.varint(version.time)
      w.varint(version.value.size)
      w.varint(UInt64(version.value.chunks.count))
      for hash in version.value.chunks { w.out += hash.bytes }
    }
    return w.out
  }

  /// The whole state, canonical: equal states give equal bytes.
  func snapshot() -> [UInt8] {
    var out = encodedState(format: Self.snapshotFormat)
    out.append(open ? 1 : 0)
    return out
  }

  /// A replica loaded from `snapshot()`'s bytes, editing as `replica` from now on.
  init(replica: ReplicaID, snapshot bytes: [UInt8]) throws(RealtimeError) {
    guard let last = bytes.last, bytes.count >= 2 else {
      throw RealtimeError(.corrupt, "invalid file snapshot: cut short")
    }
    guard last <= 1 else { throw RealtimeError(.corrupt, "invalid file snapshot: open flag \(last)") }
    // Timestamps in a snapshot are not bounded: they were when they came, and a clock set back
    // must not make a stored file unloadable.
    let state = try Self.decodeState(Array(bytes.dropLast()), format: Self.snapshotFormat, wallMs: nil)
    self.init(replica: replica)
    context = state.context
    versions = state.versions
    open = last == 1
    for version in versions.values { try? clock.hlc.observe(version.time, wallMs: 1 << 48) }
  }

  /// The context and versions in `bytes`, checked whole: canonical order, every version seen
  /// by the context, timestamps within a day of `wallMs` (nil: unbounded), the limits.
  static func decodeState(_ bytes: [UInt8], format: UInt8, wallMs: UInt64?) throws(RealtimeError) -> (
    context: VersionVector, versions: [Dot: Timestamped<FileManifest>]
  ) {
    guard bytes.count <= maxMessageBytes else {
      throw RealtimeError(.tooLarge, "a file update of \(bytes.count) bytes exceeds \(maxMessageBytes)")
    }
    var r = ByteReader(bytes, what: "file state")
    let found = try r.byte()
    guard found == format else {
      let other = found == updateFormat || found == snapshotFormat
      throw RealtimeError(
        other ? .corrupt : .version,
        other
          ? "invalid file state: format 0x\(String(found, radix: 16)) where 0x\(String(format, radix: 16)) was due"
          : "not a file document's bytes (format 0x\(String(found, radix: 16)))")
    }
    let context = try r.stateVector()
    var versions: [Dot: Timestamped<FileManifest>] = [:]
    var previous: Dot?
    for _ in 0..<(try r.count(max: maxVersions)) {
      let dot = Dot(ReplicaID(try r.fixed64()), try r.varint())
      guard dot.counter > 0, previous.map({ $0 < dot }) ?? true else { throw r.fault("versions out of order") }
      guard context.contains(dot) else { throw r.fault("a version its context has not seen") }
      previous = dot
      let time = try r.varint()
      if let wallMs, time >> 16 > wallMs &+ HybridClock.maxDriftMs {
        throw r.fault("a timestamp \((time >> 16) &- wallMs) ms in the future")
      }
      let size = try r.varint()
      let count = try r.count(max: maxChunks)
      guard r.remaining >= count * 32 else { throw r.fault("cut short") }
      var chunks: [ChunkHash] = []
      chunks.reserveCapacity(count)
      for _ in 0..<count {
        var raw = [UInt8](repeating: 0, count: 32)
        for i in 0..<32 { raw[i] = try r.byte() }
        guard let hash = ChunkHash(raw: raw) else { throw r.fault("a chunk hash") }
        chunks.append(hash)
      }
      let manifest = FileManifest(size: size, chunks: chunks)
      do throws(RealtimeError) { try check(manifest) } catch { throw r.fault(error.message) }
      versions[dot] = Timestamped(time: time, value: manifest)
    }
    guard r.atEnd else { throw r.fault("trailing bytes") }
    try checkTotal(versions)
    return (context, versions)
  }
}
