import Testing

@testable import RealtimeCore

@Suite struct ContentChunksTests {
  private func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = WireRNG(seed: seed)
    return rng.bytes(count)
  }

  @Test func aFileSurvivesChunkingAndChunksStayWithinTheirSizes() throws {
    let store = ChunkStore()
    let data = randomBytes(1 << 20, seed: 1)
    let manifest = store.add(data)
    #expect(try store.assemble(manifest) == data)
    let lengths = data.withUnsafeBytes { ContentChunker.chunkLengths($0) }
    #expect(lengths.reduce(0, +) == data.count)
    for length in lengths.dropLast() {
      #expect(length >= ContentChunker.minSize && length <= ContentChunker.maxSize)
    }
    let average = data.count / lengths.count
    #expect(average >= 4 << 10 && average <= 16 << 10, "average chunk \(average) B")
    #expect(store.add([]).chunks.isEmpty)
    #expect(try store.assemble(FileManifest(size: 0, chunks: [])).isEmpty)
  }

  /// The boundaries depend on content, not offsets: a byte inserted in the middle of a 1 MiB
  /// file leaves all but the chunks around it as they were, so only those are stored again.
  @Test func anEditStoresOnlyTheChunksItTouches() {
    let store = ChunkStore()
    var data = randomBytes(1 << 20, seed: 2)
    let first = store.add(data)
    let chunksBefore = store.count
    #expect(store.add(data) == first && store.count == chunksBefore, "the same file: nothing new")
    data.insert(42, at: data.count / 2)
    let second = store.add(data)
    #expect(store.count - chunksBefore <= 2, "\(store.count - chunksBefore) new chunks")
    #expect(Set(first.chunks).intersection(second.chunks).count >= first.chunks.count - 2)
  }

  @Test func aReplicaFetchesOnlyTheChunksItLacks() throws {
    let ada = ChunkStore()
    let bob = ChunkStore()
    let shared = randomBytes(300_000, seed: 3)
    _ = bob.add(shared)
    let file = shared + randomBytes(100_000, seed: 4)
    let manifest = ada.add(file)
    let missing = bob.missing(manifest)
    #expect(!missing.isEmpty && missing.count < manifest.chunks.count, "bob has the shared part")
    #expect(throws: RealtimeError.self) { try bob.assemble(manifest) }
    let first = try #require(missing.first)
    var tampered = try #require(ada.chunk(first))
    tampered[0] ^= 1
    #expect(throws: RealtimeError.self) { try bob.put(tampered, as: first) }
    for hash in missing { try bob.put(try #require(ada.chunk(hash)), as: hash) }
    #expect(bob.missing(manifest).isEmpty)
    #expect(try bob.assemble(manifest) == file)
    // A manifest whose size disagrees with its chunks is refused.
    #expect(throws: RealtimeError.self) { try bob.assemble(FileManifest(size: 5, chunks: manifest.chunks)) }
  }

  /// The chunker's output is part of the format: replicas running different versions must cut
  /// a file the same way, or they would stop recognising each other's chunks. These lengths were
  /// recorded when the format was fixed (gear table, masks, sizes); a change that moves them is a
  /// format change.
  @Test func chunkBoundariesAreTheFormatsAndDoNotMove() {
    let data = randomBytes(200_000, seed: 7)
    let lengths = data.withUnsafeBytes { ContentChunker.chunkLengths($0) }
    #expect(
      lengths == [
        8492, 6097, 6658, 8546, 8642, 3854, 10058, 8553, 7226, 9419, 10629, 9913, 10198, 9976, 3144, 10007, 14240,
        11263, 8322, 16041, 16459, 2263,
      ])
  }
}
