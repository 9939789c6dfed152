/// What the store accepts for file chunks, checked where a chunk enters (the writer) so a bad
/// one is refused with a clear error instead of reaching SQLite.
enum ChunkLimits {
  static let hashBytes = 32

  /// Refuses a hash that is not 32 bytes, or a chunk that is empty or larger than the chunker
  /// ever cuts.
  static func check(hash: [UInt8], data: [UInt8]) throws(RealtimeError) {
    guard hash.count == hashBytes else {
      throw RealtimeError(.invalidArgument, "a chunk hash has \(hashBytes) bytes; this one has \(hash.count)")
    }
    guard !data.isEmpty, data.count <= ContentChunker.maxSize else {
      throw RealtimeError(.tooLarge, "a chunk holds 1 to \(ContentChunker.maxSize) bytes; this one has \(data.count)")
    }
  }
}

extension Store {
  /// The chunk stored under `hash`, or nil; opened when sealed at rest (`AtRest`). Any thread.
  func chunk(_ hash: ChunkHash) throws(RealtimeError) -> [UInt8]? {
    try read { db throws(RealtimeError) in
      let stmt = try db.prepare("SELECT data, key_id FROM rt_chunks WHERE hash = ?1")
      try stmt.bind(1, hash.bytes)
      guard try stmt.step() else { return nil }
      return try AtRest.open(stmt.bytes(0), keyID: stmt.int64(1), for: .chunk(hash.bytes), keyring: atRest.keyring)
    }
  }

  /// Which of `hashes` are stored, in one read. Any thread.
  func storedChunks(_ hashes: some Sequence<ChunkHash>) throws(RealtimeError) -> Set<ChunkHash> {
    try read { db throws(RealtimeError) in
      let stmt = try db.prepare("SELECT 1 FROM rt_chunks WHERE hash = ?1")
      var found: Set<ChunkHash> = []
      for hash in hashes where !found.contains(hash) {
        try stmt.bind(1, hash.bytes)
        if try stmt.step() { found.insert(hash) }
        stmt.reset()
      }
      return found
    }
  }

  /// The hashes of the chunks stored at or before `storedBefore` (ms since 1970). Any thread.
  func chunkHashes(storedBefore: Int64) throws(RealtimeError) -> [ChunkHash] {
    try read { db throws(RealtimeError) in
      let stmt = try db.prepare("SELECT hash FROM rt_chunks WHERE stored_at <= ?1")
      try stmt.bind(1, storedBefore)
      var hashes: [ChunkHash] = []
      while try stmt.step() {
        if let hash = ChunkHash(raw: stmt.bytes(0)) { hashes.append(hash) }
      }
      return hashes
    }
  }

  /// The ids of the stored documents of `kind`. Any thread.
  func documentIDs(kind: Int) throws(RealtimeError) -> [String] {
    try read { db throws(RealtimeError) in
      let stmt = try db.prepare("SELECT id FROM rt_docs WHERE kind = ?1")
      try stmt.bind(1, Int64(kind))
      var ids: [String] = []
      while try stmt.step() { ids.append(stmt.text(0)) }
      return ids
    }
  }
}
