extension FuzzEntry {
  /// Feeds `bytes` to a small task list as an update or diff, and loads them as a snapshot, on
  /// a fixed clock. Returns -2 when an invariant broke: a refused input changed the state, the
  /// state after an accepted one does not reload to the same snapshot, or a snapshot that loads
  /// does not write back the same bytes or changes when its own diff is applied to it.
  /// Otherwise 0 for refused everywhere, plus 1 when applied and 2 when loaded.
  public static func taskList(_ bytes: UnsafeRawBufferPointer) -> Int {
    let input = Array(bytes)
    let now: () -> UInt64 = { 1_800_000_000_000 }
    let doc = TaskListDocument(replica: ReplicaID(7))
    doc.wallClock = now
    do throws(RealtimeError) {
      try doc.set(.title("mine"), of: "a", wallMs: now())
      try doc.insert("x", into: .tags, of: "b")
      _ = doc.commit()
      try doc.insert("typed", into: .description, of: "a", at: 0)
      try doc.delete(from: .description, of: "a", at: 1, length: 2)
      _ = doc.commit()
    } catch {
      return -2
    }
    var outcome = 0
    let before = doc.snapshot()
    if (try? doc.apply(input)) != nil {
      outcome += 1
      let after = doc.snapshot()
      guard let again = try? TaskListDocument(replica: ReplicaID(7), snapshot: after, wallClock: now),
        again.snapshot() == after
      else { return -2 }
    } else if doc.snapshot() != before {
      return -2
    }
    if let loaded = try? TaskListDocument(replica: ReplicaID(7), snapshot: input, wallClock: now) {
      outcome += 2
      guard loaded.snapshot() == input else { return -2 }
      // Its whole diff, applied to a copy of itself (on a clock that takes its timestamps),
      // changes nothing: merging is idempotent.
      guard let copy = try? TaskListDocument(replica: ReplicaID(7), snapshot: input, wallClock: now) else { return -2 }
      copy.wallClock = { TaskListReplica.anyTime }
      guard (try? copy.apply(loaded.diff(since: VersionVector()))) != nil, copy.snapshot() == input else { return -2 }
      // And it goes on editing, whatever counters it holds.
      try? loaded.set(.title("later"), of: "a", wallMs: now())
      try? loaded.insert("y", into: .assignees, of: "b")
      try? loaded.insert("z", into: .description, of: "a", at: 1)
      try? loaded.delete(from: .title, of: "b", at: 0, length: 1)
      _ = loaded.commit()
    }
    return outcome
  }
}
