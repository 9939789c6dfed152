/// The whole state of a task list in one canonical encoding (`docs/protocol.md`, "Task lists"):
/// the state vector, the tasks in id order with their touched maps, the open transaction's task
/// ids and the held updates as they came, so that nothing is lost across a reload. Loading
/// checks every piece and every invariant the document keeps; it replays nothing.
extension TaskListReplica {
  /// The document's state, canonical: equal states give equal bytes.
  func snapshot() -> [UInt8] {
    var w = ByteWriter()
    w.byte(TaskListFormat.snapshot)
    w.counters(stateVector.counters)
    w.varint(UInt64(tasks.count))
    for (_, entry) in tasks.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) { w.taskEntry(entry) }
    w.varint(UInt64(open.count))
    for key in open.sorted(by: { $0.lexicographicallyPrecedes($1) }) { w.bytes(key) }
    w.varint(UInt64(held.count))
    for (_, waiting) in held.sorted(by: { $0.key < $1.key }) { w.bytes(waiting.bytes) }
    return w.out
  }

  /// Loads a snapshot, to be edited by `replica`; `wallMs` sets the clock. Timestamps are not
  /// bounded by `wallMs` here, unlike in updates: the snapshot holds what was accepted when it
  /// came, and a wall clock set back by a day must not make a stored document unloadable.
  init(replica: ReplicaID, snapshot bytes: [UInt8], wallMs: UInt64) throws(RealtimeError) {
    guard bytes.count <= Self.maxMessageBytes else {
      throw RealtimeError(.tooLarge, "a task list snapshot of \(bytes.count) bytes exceeds \(Self.maxMessageBytes)")
    }
    self.init(replica: replica)
    var r = ByteReader(bytes, what: "task list snapshot")
    guard try r.byte() == TaskListFormat.snapshot else {
      throw RealtimeError(.version, "not a task list snapshot (unknown format byte)")
    }
    stateVector = try r.stateVector()
    let entries = try r.taskEntries(wallMs: Self.anyTime, touchedRequired: false)
    tasks.reserveCapacity(entries.count)
    for (key, entry) in entries { tasks[key] = entry }
    var last: [UInt8]?
    for _ in 0..<(try r.count(max: tasks.count)) {
      let key = try r.data(max: Self.maxIDBytes)
      guard last.map({ $0.lexicographicallyPrecedes(key) }) ?? true, tasks[key] != nil else {
        throw r.fault("open tasks out of order or missing")
      }
      last = key
      open.insert(key)
    }
    for (key, entry) in entries {
      // A task comes from a commit (which stamps it) or from the open transaction.
      guard !entry.touched.isEmpty || open.contains(key) else { throw r.fault("a task no update changed") }
      guard (entry.touched[replica] ?? 0) <= stateVector[replica] else {
        throw r.fault("a task stamped with a commit of this replica beyond its state vector")
      }
      var size = entry.size
      if open.contains(key) {
        size = try measure(entry, open: true)
        tasks[key]?.size = size
        // Its text fields' uncommitted edits are no longer told apart: the commit sends them whole.
        tasks[key]?.record.title.sendWhole = true
        tasks[key]?.record.description.sendWhole = true
      }
      entryBytes += size
      textCharacters += entry.record.textCharacters
    }
    guard entryBytes <= Self.maxEntryBytes else {
      throw RealtimeError(.tooLarge, "a task list's tasks take at most \(Self.maxEntryBytes) bytes")
    }
    var lastDot: Dot?
    for _ in 0..<(try r.count(max: Self.maxHeld)) {
      let raw = try r.data(max: Self.maxHeldBytes)
      let update = try TaskListUpdate(decoding: raw, wallMs: Self.anyTime)
      guard case .commit(let dot) = update.origin else { throw r.fault("a held diff") }
      guard lastDot.map({ $0 < dot }) ?? true else { throw r.fault("held updates out of order") }
      lastDot = dot
      // Held: not integrated yet, and never this replica's own (those are always integrated).
      guard dot.counter > stateVector[dot.replica], dot.replica != replica else {
        throw r.fault("a held update that is integrated already or is this replica's own")
      }
      try checkClaims(update)
      held[dot] = Held(bytes: raw, update: update)
      heldBytes += raw.count
      heldTasks += update.entries.count
      guard heldBytes <= Self.maxHeldBytes else {
        throw RealtimeError(.tooLarge, "held updates take at most \(Self.maxHeldBytes) bytes")
      }
    }
    guard tasks.count + heldTasks <= Self.maxTasks else {
      throw RealtimeError(.tooLarge, "a task list holds at most \(Self.maxTasks) tasks")
    }
    guard r.atEnd else { throw r.fault("trailing bytes") }
    // One that is next and would integrate would have been integrated: the state is not one
    // a document leaves (only a limit keeps a next update held).
    for (dot, waiting) in held where dot.counter - 1 == stateVector[dot.replica] {
      if (try? merge(waiting.update.entries, counted: false)) != nil {
        throw RealtimeError(.corrupt, "invalid task list snapshot: a held update that would integrate")
      }
    }
    for entry in tasks.values {
      // The clock refuses times over a day ahead: it then keeps its own, and local writes order
      // before such a task's (as they would at any replica whose clock is behind).
      try? clock.hlc.observe(entry.record.newestTime, wallMs: wallMs)
    }
  }
}
