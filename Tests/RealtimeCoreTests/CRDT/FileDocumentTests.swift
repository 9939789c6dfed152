import Testing

@testable import RealtimeCore

/// The wall clock every test file runs on.
private let wall: UInt64 = 1_795_000_000_000

private func file(_ replica: UInt64, clock: @escaping () -> UInt64 = { wall }) -> FileDocument {
  FileDocument(replica: ReplicaID(replica), wallClock: clock)
}

private func manifest(_ seed: UInt64, _ store: ChunkStore, size: Int = 20_000) -> FileManifest {
  var rng = WireRNG(seed: seed)
  return store.add(rng.bytes(size))
}

/// Binary files as replicated documents: concurrent writes become conflict copies until a
/// later write has seen them, states merge in any order with identical encodings, snapshots
/// round-trip, and malformed or hostile bytes are refused with nothing changed.
@Suite struct FileDocumentTests {
  @Test func concurrentWritesBecomeConflictCopiesUntilWrittenAgain() throws {
    let store = ChunkStore()
    var now = wall
    let ada = file(1) { now }
    let bob = file(2) { now }
    try ada.replace(with: manifest(8, store))
    try bob.apply(try #require(ada.commit()))
    let adaVersion = manifest(9, store)
    let bobVersion = manifest(10, store)
    try ada.replace(with: adaVersion)
    now += 1_000
    try bob.replace(with: bobVersion)
    let fromAda = try #require(ada.commit())
    let fromBob = try #require(bob.commit())
    try ada.apply(fromBob)
    try bob.apply(fromAda)
    #expect(ada.snapshot() == bob.snapshot())
    #expect(ada.manifest == bobVersion && ada.conflictCopies == [adaVersion], "bob's is newer; ada's is kept")
    // Keeping ada's version resolves the conflict everywhere.
    try bob.resolve(keeping: 1)
    try ada.apply(try #require(bob.commit()))
    #expect(ada.versions == [adaVersion] && bob.versions == [adaVersion])
    #expect(throws: RealtimeError.self) { try ada.resolve(keeping: 5) }
  }

  /// Property: 2 to 8 replicas write concurrently and exchange their states in random order,
  /// with duplicates and drops made good by a final diff round; all end identical.
  @Test(arguments: 0..<20) func replicasConverge(seed: UInt64) throws {
    var rng = WireRNG(seed: seed &+ 100)
    let store = ChunkStore()
    let count = Int(rng.next() % 7) + 2
    var now = wall
    let replicas = (0..<count).map { i in file(UInt64(i + 1)) { now } }
    var sent: [[UInt8]] = []
    for round in 0..<30 {
      now += rng.next() % 3
      let writer = replicas[Int(rng.next() % UInt64(count))]
      if rng.next() % 4 == 0, writer.versions.count > 1 {
        try writer.resolve(keeping: Int(rng.next() % UInt64(writer.versions.count)))
      } else {
        try writer.replace(with: manifest(seed * 1000 + UInt64(round), store, size: 3_000))
      }
      if let update = writer.commit() { sent.append(update) }
      // Deliver a few random updates (duplicates included) to random replicas.
      for _ in 0..<(rng.next() % 4) where !sent.isEmpty {
        let update = sent[Int(rng.next() % UInt64(sent.count))]
        try replicas[Int(rng.next() % UInt64(count))].apply(update)
      }
    }
    // One round trip between every pair: each sends the other what it lacks.
    for a in replicas {
      for b in replicas where a !== b {
        try b.apply(a.diff(since: b.stateVector))
      }
    }
    let snapshot = replicas[0].snapshot()
    for r in replicas {
      #expect(r.snapshot() == snapshot)
      #expect(r.versions == replicas[0].versions)
    }
  }

  /// `holds` answers for the live versions only, also right after each change.
  @Test func holdsFollowsTheLiveVersions() throws {
    let store = ChunkStore()
    let a = file(1)
    let first = manifest(1, store)
    let second = manifest(2, store)
    #expect(!a.holds(first.chunks[0]))
    try a.replace(with: first)
    #expect(a.holds(first.chunks[0]) && !a.holds(second.chunks[0]))
    try a.replace(with: second)
    #expect(!a.holds(first.chunks[0]) && a.holds(second.chunks[0]))
    let b = file(2)
    try b.replace(with: first)
    #expect(!a.holds(first.chunks[0]))
    try a.apply(try #require(b.commit()))
    #expect(a.holds(first.chunks[0]) && a.holds(second.chunks[0]), "concurrent: both versions live")
  }

  @Test func snapshotsRoundTripWithTheUncommittedWrite() throws {
    let store = ChunkStore()
    let doc = file(1)
    try doc.replace(with: manifest(1, store))
    _ = doc.commit()
    try doc.replace(with: manifest(2, store))
    let snapshot = doc.snapshot()
    let loaded = try FileDocument(replica: ReplicaID(9), snapshot: snapshot, wallClock: { wall })
    #expect(loaded.snapshot() == snapshot && loaded.hasChanges)
    #expect(loaded.manifest == doc.manifest)
    // The reloaded replica sends what was uncommitted.
    let other = file(3)
    try other.apply(try #require(loaded.commit()))
    #expect(other.manifest == doc.manifest)
  }

  @Test func aDiffIsEmptyWhenThePeerHasEverything() throws {
    let store = ChunkStore()
    let a = file(1)
    let b = file(2)
    try a.replace(with: manifest(1, store))
    try b.apply(a.diff(since: b.stateVector))
    #expect(a.diff(since: b.stateVector) == [FileReplica.updateFormat, 0, 0])
    #expect(b.manifest == a.manifest)
  }

  @Test func malformedAndHostileStatesAreRefusedWithNothingChanged() throws {
    let store = ChunkStore()
    let a = file(1)
    let b = file(2)
    try a.replace(with: manifest(1, store))
    let good = try #require(a.commit())
    try b.replace(with: manifest(2, store))
    _ = b.commit()
    let before = b.snapshot()
    var bad: [[UInt8]] = [
      [], [0x31], Array(good.dropLast()), good + [0], [0x01] + good.dropFirst(), [0x32] + good.dropFirst(),
    ]
    // A version its vector has not seen: the counter raised past the vector's.
    var unseen = FileReplica(replica: ReplicaID(5))
    unseen.versions[Dot(ReplicaID(5), 3)] = Timestamped(time: wall << 16, value: FileManifest(size: 0, chunks: []))
    unseen.context.observe(Dot(ReplicaID(5), 2))
    bad.append(unseen.encodedState())
    // A write of b's own it never made.
    var forged = FileReplica(replica: ReplicaID(2))
    _ = try forged.replace(with: FileManifest(size: 0, chunks: []), wallMs: wall)
    _ = try forged.replace(with: FileManifest(size: 0, chunks: []), wallMs: wall)
    bad.append(forged.encodedState())
    // A timestamp two days ahead.
    var future = FileReplica(replica: ReplicaID(6))
    try future.replace(with: FileManifest(size: 0, chunks: []), wallMs: wall + 2 * 86_400_000)
    bad.append(future.encodedState())
    // A size its chunks cannot hold.
    var oversized = FileReplica(replica: ReplicaID(7))
    let one = try #require(a.manifest?.chunks.first)
    oversized.context.observe(Dot(ReplicaID(7), 1))
    oversized.versions[Dot(ReplicaID(7), 1)] = Timestamped(
      time: wall << 16, value: FileManifest(size: 1 << 20, chunks: [one]))
    bad.append(oversized.encodedState())
    for bytes in bad {
      #expect(throws: RealtimeError.self) { try b.apply(bytes) }
      #expect(b.snapshot() == before)
    }
    // Another document kind's bytes are a version error.
    let text = TextDocument(replica: ReplicaID(3))
    try text.insert("hi", at: 0)
    let textUpdate = try #require(text.commit())
    #expect { try b.apply(textUpdate) } throws: { ($0 as? RealtimeError)?.code == .version }
    #expect(throws: RealtimeError.self) { try FileDocument(replica: ReplicaID(1), snapshot: good) }
  }

  @Test func tooManyConcurrentVersionsAreRefused() throws {
    let target = file(1)
    for i in 0..<FileReplica.maxVersions {
      let writer = file(UInt64(100 + i))
      try writer.replace(with: FileManifest(size: 0, chunks: []))
      try target.apply(try #require(writer.commit()))
    }
    #expect(target.versions.count == FileReplica.maxVersions)
    let one = file(999)
    try one.replace(with: FileManifest(size: 0, chunks: []))
    let update = try #require(one.commit())
    let before = target.snapshot()
    #expect(throws: RealtimeError.self) { try target.apply(update) }
    #expect(target.snapshot() == before)
  }

  /// The fuzz target's entry, run on a few inputs so a change that breaks it fails here.
  @Test func fuzzEntryTakesAnyBytes() {
    var rng = WireRNG(seed: 3)
    for n in [0, 1, 3, 40, 300] {
      let input = rng.bytes(n)
      #expect(input.withUnsafeBytes { FuzzEntry.file($0) } >= 0)
    }
    let doc = file(3)
    doc.state.open = true
    for input in [doc.commit() ?? [], doc.snapshot()] {
      #expect(input.withUnsafeBytes { FuzzEntry.file($0) } > 0, "valid bytes are taken")
    }
  }
}
