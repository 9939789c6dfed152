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
}
