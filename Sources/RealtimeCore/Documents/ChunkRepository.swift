/// The core's file chunks: content-addressed, stored once in the store's chunk table however
/// many files and versions hold them. Chunks written here are readable at once: until the
/// writer commits them they are served from memory. Any thread.
final class ChunkRepository: @unchecked Sendable {
  private let store: Store
  private unowned let engine: Engine
  /// Chunks handed to the writer and not yet committed.
  private let unwritten = Locked<[ChunkHash: [UInt8]]>([:])
  /// Shared by whatever makes a document reference stored chunks (a write, a checked update),
  /// from the check that they are stored until the reference is in the document; held alone by
  /// collection, so it never deletes a chunk between the two.
  let gate = ReadWriteLock()

  init(store: Store, engine: Engine) {
    self.store = store
    self.engine = engine
  }

  /// Cuts `data` into chunks (`ContentChunker`), stores those not stored yet, and returns the
  /// file's manifest. Throws `.tooLarge` past `FileReplica`'s limits, `.state` when the core is
  /// not running.
  func add(_ data: UnsafeRawBufferPointer) throws(RealtimeError) -> FileManifest {
    guard UInt64(data.count) <= FileReplica.maxFileBytes else {
      throw RealtimeError(.tooLarge, "a file of \(data.count) bytes exceeds \(FileReplica.maxFileBytes)")
    }
    var pieces: [(hash: ChunkHash, range: Range<Int>)] = []
    var start = 0
    for length in ContentChunker.chunkLengths(data) {
      let range = start..<(start + length)
      pieces.append((ChunkHash(of: UnsafeRawBufferPointer(rebasing: data[range])), range))
      start += length
    }
    let manifest = FileManifest(size: UInt64(data.count), chunks: pieces.map(\.hash))
    try FileReplica.check(manifest)
    let stored = try present(Set(manifest.chunks))
    var new: [ChunkHash: [UInt8]] = [:]
    for piece in pieces where !stored.contains(piece.hash) && new[piece.hash] == nil {
      new[piece.hash] = Array(UnsafeRawBufferPointer(rebasing: data[piece.range]))
    }
    try write(new)
    return manifest
  }

  /// Stores a chunk received from elsewhere; refused unless `data` has `hash` and fits a chunk.
  func put(_ data: [UInt8], as hash: ChunkHash) throws(RealtimeError) {
    guard !data.isEmpty else {
      throw RealtimeError(.invalidArgument, "a chunk holds 1 to \(ContentChunker.maxSize) bytes; this one is empty")
    }
    guard data.count <= ContentChunker.maxSize else {
      throw RealtimeError(.tooLarge, "a chunk of \(data.count) bytes exceeds \(ContentChunker.maxSize)")
    }
    guard data.withUnsafeBytes({ ChunkHash(of: $0) }) == hash else {
      throw RealtimeError(.corrupt, "chunk \(hash) does not have its hash")
    }
    guard try present([hash]).isEmpty else { return }
    try write([hash: data])
  }

  /// The chunk `hash`, or nil when it is not stored.
  func chunk(_ hash: ChunkHash) throws(RealtimeError) -> [UInt8]? {
    if let data = unwritten.withLock({ $0[hash] }) { return data }
    return try store.chunk(hash)
  }

  /// The chunks of `manifests` not stored here, each once, in order: what to ask a peer for.
  func missing(_ manifests: [FileManifest]) throws(RealtimeError) -> [ChunkHash] {
    let stored = try present(Set(manifests.flatMap(\.chunks)))
    var seen: Set<ChunkHash> = []
    return manifests.flatMap(\.chunks).filter { !stored.contains($0) && seen.insert($0).inserted }
  }

  /// The file's bytes. Throws `.notFound` while a chunk is missing, `.corrupt` when the chunks'
  /// sizes disagree with the manifest's.
  func assemble(_ manifest: FileManifest) throws(RealtimeError) -> [UInt8] {
    guard manifest.size <= UInt64(Int.max) else { throw RealtimeError(.tooLarge, "the file is too large to read") }
    var out: [UInt8] = []
    out.reserveCapacity(Int(manifest.size))
    for hash in manifest.chunks {
      guard let data = try chunk(hash) else {
        throw RealtimeError(.notFound, "chunk \(hash.hex) of the file is missing")
      }
      guard UInt64(out.count + data.count) <= manifest.size else { break }
      out += data
    }
    guard UInt64(out.count) == manifest.size else {
      throw RealtimeError(.corrupt, "the chunks hold \(out.count) bytes; the manifest says \(manifest.size)")
    }
    return out
  }

  /// Whether `hash` is on its way to the store.
  func isUnwritten(_ hash: ChunkHash) -> Bool { unwritten.withLock { $0[hash] != nil } }

  /// Which of `hashes` are stored or on their way to the store.
  private func present(_ hashes: Set<ChunkHash>) throws(RealtimeError) -> Set<ChunkHash> {
    let pending = unwritten.withLock { held in hashes.filter { held[$0] != nil } }
    return pending.union(try store.storedChunks(hashes.subtracting(pending)))
  }

  /// Hands `chunks` to the writer, serving them from memory until they are committed.
  private func write(_ chunks: [ChunkHash: [UInt8]]) throws(RealtimeError) {
    guard !chunks.isEmpty else { return }
    // Refused here rather than by the writer, whose refusal would roll back a whole group commit.
    try store.atRest.checkMayStorePlaintext()
    unwritten.withLock { held in for (hash, data) in chunks { held[hash] = data } }
    let posted = engine.mailbox.post { [engine, unwritten] in
      let time = Int64(clamping: systemWallMs())
      for (hash, data) in chunks { engine.log.enqueue(.chunkPut(hash: hash.bytes, data: data, time: time)) }
      engine.log.barrier { error in
        if let error { engine.sink(.error, "file chunks were not stored: \(error.message)") }
        unwritten.withLock { held in for hash in chunks.keys { held[hash] = nil } }
      }
    }
    guard posted else {
      unwritten.withLock { held in for hash in chunks.keys { held[hash] = nil } }
      throw RealtimeError(.state, "the core is not running; call start or attach first")
    }
  }
}
