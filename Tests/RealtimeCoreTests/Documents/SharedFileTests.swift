import Testing

@testable import RealtimeCore

/// File documents in the core, on real SQLite files: chunks are stored once and readable at
/// once, a replica fetches only the chunks it lacks, and everything survives a restart.
@Suite struct SharedFileTests {
  private func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = WireRNG(seed: seed)
    return rng.bytes(count)
  }

  /// Writes `content` as the file's new version. (An untyped closure: one with typed throws
  /// crashes the 6.3.1 compiler's IR generation here.)
  private func write(_ doc: SharedDocument, _ content: [UInt8]) throws {
    try content.withUnsafeBytes { try doc.writeFile($0) }
  }

  @Test func aFileIsReadableAtOnceAndAfterARestart() throws {
    let dir = try TempDir()
    let content = bytes(200_000, seed: 1)
    do {
      let core = try Core(config: CoreConfig(databasePath: dir.file("a.db")))
      try core.start()
      let doc = try core.openDocument("files/a.bin", kind: .file)
      #expect(throws: RealtimeError.self) { try doc.readFile() }
      try write(doc, content)
      // Before the writer has committed anything.
      #expect(try doc.readFile() == content)
      #expect(try doc.missingChunks().isEmpty)
      _ = doc.commit()
      // The same content in a second file stores no chunk again.
      let twin = try core.openDocument("files/b.bin", kind: .file)
      try write(twin, content)
      _ = twin.commit()
      core.closeDocument(doc)
      core.closeDocument(twin)
      try core.sync()
      let chunkCount = try core.store.read { db throws(RealtimeError) in try db.scalar("SELECT count(*) FROM rt_chunks")
      }
      let manifestCount = content.withUnsafeBytes { ContentChunker.chunkLengths($0).count }
      #expect(chunkCount == Int64(manifestCount))
      try core.close()
    }
    let core = try Core(config: CoreConfig(databasePath: dir.file("a.db")))
    try core.start()
    let doc = try core.openDocument("files/a.bin", kind: .file)
    #expect(try doc.readFile() == content)
    core.closeDocument(doc)
    try core.close()
  }

  @Test func aReplicaFetchesOnlyTheChunksItLacks() throws {
    let dir = try TempDir()
    let a = try Core(config: CoreConfig(databasePath: dir.file("a.db")))
    let b = try Core(config: CoreConfig(databasePath: dir.file("b.db")))
    try a.start()
    try b.start()
    defer {
      try? a.close()
      try? b.close()
    }
    let docA = try a.openDocument("f", kind: .file)
    let docB = try b.openDocument("f", kind: .file)
    var content = bytes(300_000, seed: 2)
    try write(docA, content)
    _ = docA.commit()

    /// Syncs B from A and fetches what B lacks; returns how many chunks that took.
    func syncBFromA() throws -> Int {
      try docB.apply(docA.diff(since: docB.stateVector))
      let missing = try docB.missingChunks()
      for hash in missing { try b.putChunk(try #require(try a.chunk(hash)), as: hash) }
      return missing.count
    }
    let total = try syncBFromA()
    #expect(total > 20)
    #expect(try docB.readFile() == content)
    // A small edit in the middle: B fetches a few chunks, not the file.
    content.replaceSubrange(150_000..<150_010, with: Array("edited".utf8))
    try write(docA, content)
    _ = docA.commit()
    let fetched = try syncBFromA()
    #expect(fetched >= 1 && fetched <= 3)
    #expect(try docB.readFile() == content)
    // Bytes that do not have their hash are refused and nothing is stored.
    let hash = ChunkHash(raw: Array(repeating: 7, count: 32))!
    #expect(throws: RealtimeError.self) { try b.putChunk([1, 2, 3], as: hash) }
    #expect(try b.chunk(hash) == nil)
    #expect(throws: RealtimeError.self) {
      let big = [UInt8](repeating: 1, count: ContentChunker.maxSize + 1)
      try b.putChunk(big, as: big.withUnsafeBytes { ChunkHash(of: $0) })
    }
    a.closeDocument(docA)
    b.closeDocument(docB)
  }

  /// Collection deletes the chunks no version references — those of replaced versions and
  /// uploads never referenced — and keeps those of every version, in memory or only stored;
  /// recent chunks are spared.
  @Test func collectionDeletesOnlyUnreferencedChunks() throws {
    let dir = try TempDir()
    let core = try Core(config: CoreConfig(databasePath: dir.file("c.db")))
    try core.start()
    defer { try? core.close() }
    let kept = try core.openDocument("kept", kind: .file)
    let open = try core.openDocument("open", kind: .file)
    let keptContent = bytes(50_000, seed: 5)
    let first = bytes(50_000, seed: 6)
    let second = bytes(50_000, seed: 7)
    try write(kept, keptContent)
    _ = kept.commit()
    core.closeDocument(kept)  // referenced only by what is stored
    try write(open, first)
    _ = open.commit()
    try write(open, second)  // uncommitted: referenced only in memory
    let orphan = bytes(3_000, seed: 8)
    let orphanHash = orphan.withUnsafeBytes { ChunkHash(of: $0) }
    try core.putChunk(orphan, as: orphanHash)
    try core.sync()
    let count = { () throws -> Int64 in
      try core.store.read { db throws(RealtimeError) in try db.scalar("SELECT count(*) FROM rt_chunks") ?? 0 }
    }
    let before = try count()
    // Everything is recent: nothing goes.
    #expect(try core.collectChunks() == 0)
    let firstChunks = first.withUnsafeBytes { ContentChunker.chunkLengths($0).count }
    #expect(try core.collectChunks(olderThanMs: 0) == firstChunks + 1)
    #expect(try count() == before - Int64(firstChunks) - 1)
    #expect(try core.chunk(orphanHash) == nil)
    #expect(try open.readFile() == second)
    let reopened = try core.openDocument("kept", kind: .file)
    #expect(try reopened.readFile() == keptContent)
    #expect(try core.collectChunks(olderThanMs: 0) == 0)
    core.closeDocument(reopened)
    core.closeDocument(open)
  }
}
