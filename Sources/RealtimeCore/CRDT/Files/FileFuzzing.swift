extension FuzzEntry {
  /// Feeds `bytes` to a small file document as an update, and loads them as a snapshot, on a
  /// fixed clock. Returns -2 when an invariant broke: a refused input changed the state, the
  /// state after an accepted one does not reload to the same snapshot, applying it twice
  /// changes something, or a snapshot that loads does not write back the same bytes or changes
  /// when its own diff is applied to it. Otherwise 0 for refused everywhere, plus 1 when applied
  /// and 2 when loaded.
  public static func file(_ bytes: UnsafeRawBufferPointer) -> Int {
    let input = Array(bytes)
    let now: () -> UInt64 = { 1_800_000_000_000 }
    let doc = FileDocument(replica: ReplicaID(7), wallClock: now)
    let store = ChunkStore()
    do throws(RealtimeError) {
      try doc.replace(with: store.add(Array(repeating: 1, count: 3000)))
      _ = doc.commit()
    } catch {
      return -2
    }
    var outcome = 0
    let before = doc.snapshot()
    if (try? doc.apply(input)) != nil {
      outcome += 1
      let after = doc.snapshot()
      guard let again = try? FileDocument(replica: ReplicaID(7), snapshot: after, wallClock: now),
        again.snapshot() == after
      else { return -2 }
      guard (try? doc.apply(input)) != nil, doc.snapshot() == after else { return -2 }
    } else if doc.snapshot() != before {
      return -2
    }
    if let loaded = try? FileDocument(replica: ReplicaID(7), snapshot: input, wallClock: now) {
      outcome += 2
      guard loaded.snapshot() == input else { return -2 }
      guard let copy = try? FileDocument(replica: ReplicaID(7), snapshot: input, wallClock: { 1 << 48 }),
        (try? copy.apply(loaded.diff(since: VersionVector()))) != nil, copy.snapshot() == input
      else { return -2 }
      // And it goes on editing, whatever counters it holds.
      try? loaded.replace(with: FileManifest(size: 0, chunks: []))
      _ = loaded.commit()
    }
    return outcome
  }
}
