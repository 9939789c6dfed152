extension Core {
  /// Opens document `id` (1 to 256 bytes of UTF-8, no NUL) as `kind`: loaded from its snapshot
  /// and the updates after it, or created empty. Every open needs a `closeDocument`; the
  /// document stays in memory, shared with clients, while anyone holds it. The core must be
  /// running (its loop persists the changes). Any thread.
  public func openDocument(_ id: String, kind: DocumentKind) throws(RealtimeError) -> SharedDocument {
    guard isStarted else {
      throw RealtimeError(.state, "the core is not running; call start or attach first")
    }
    return try documents.open(id, kind: kind)
  }

  /// Releases an open of `document`; after the last, its pending changes are written with a
  /// snapshot and it leaves memory. Any thread.
  public func closeDocument(_ document: SharedDocument) { documents.close(document) }

  /// The file chunk stored under `hash`, or nil: what a peer missing it asks for. Any thread.
  public func chunk(_ hash: ChunkHash) throws(RealtimeError) -> [UInt8]? {
    guard isStarted else {
      throw RealtimeError(.state, "the core is not running; call start or attach first")
    }
    return try documents.chunks.chunk(hash)
  }

  /// Stores a file chunk received from a peer. Throws `.corrupt` unless `data` has `hash`,
  /// `.tooLarge` for more than a chunk's 64 KiB. Any thread.
  public func putChunk(_ data: [UInt8], as hash: ChunkHash) throws(RealtimeError) {
    guard isStarted else {
      throw RealtimeError(.state, "the core is not running; call start or attach first")
    }
    try documents.chunks.put(data, as: hash)
  }

  /// Deletes the stored file chunks that no version of any file document references and that
  /// were stored at least `olderThanMs` ago (a client uploads a version's chunks before the
  /// version; the default spares an hour of uploads). Returns how many were deleted, once the
  /// deletion is committed. Writes that would reference stored chunks wait meanwhile. Reads
  /// every file document not in memory: run it now and then, not on every change. Any thread
  /// but the loop's.
  public func collectChunks(olderThanMs: UInt64 = 3_600_000) throws(RealtimeError) -> Int {
    guard isStarted else {
      throw RealtimeError(.state, "the core is not running; call start or attach first")
    }
    let hub = documents
    return try hub.chunks.gate.exclusive { () throws(RealtimeError) -> Int in
      let cutoff = Int64(clamping: systemWallMs() &- min(olderThanMs, systemWallMs()))
      let referenced = try hub.referencedChunks()
      let doomed = try store.chunkHashes(storedBefore: cutoff).filter {
        !referenced.contains($0) && !hub.chunks.isUnwritten($0)
      }
      guard !doomed.isEmpty else { return 0 }
      let hashes = doomed.map(\.bytes)
      let error: RealtimeError? = try call { engine, reply in
        engine.log.enqueue(.chunkDelete(hashes: hashes, storedBefore: cutoff))
        engine.log.barrier { reply($0) }
      }
      if let error { throw error }
      return doomed.count
    }
  }
}
