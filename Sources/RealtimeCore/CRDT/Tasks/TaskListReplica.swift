/// The state and the algorithms of one replica of a task list (`TaskListDocument` is its public
/// face): a value, so that an edit is one exclusive access.
///
/// Sync is delta-state under a document-level causal clock: each commit takes the next
/// document counter of its replica and sends the full states of the tasks it changed, each
/// stamped in its `touched` map. The state vector counts, per replica, the commits integrated
/// without a gap; an update that comes before its predecessor is held until that arrives, so the
/// vector never claims something that is not here, and `diff(since:)` can select exactly the
/// tasks some commit beyond a peer's vector changed.
struct TaskListReplica {
  /// An update waiting for an earlier commit of its replica, as it came and decoded.
  struct Held {
    let bytes: [UInt8]
    let update: TaskListUpdate
  }

  /// What merging some incoming tasks would leave, checked against every limit.
  struct Merge {
    var entries: [(key: [UInt8], entry: TaskEntry)] = []
    /// Tasks not here before.
    var added = 0
    /// Change of `entryBytes`.
    var bytes = 0
    /// Change of `textCharacters`.
    var characters = 0
  }

  static let maxTasks = 100_000
  static let maxIDBytes = 256
  /// Replicas named in one task's touched map: as many as may have edited its record.
  static let maxTouched = TaskRecord.maxReplicas
  static let maxHeld = 10_000
  static let maxHeldBytes = 64 << 20
  /// The tasks' part of a snapshot. With the held updates, the open transaction and the state
  /// vector at their limits, a snapshot stays within `maxMessageBytes`, so one always loads.
  static let maxEntryBytes = 128 << 20
  /// Largest update, diff or snapshot decoded (the store's limit for snapshots).
  static let maxMessageBytes = 256 << 20
  /// Characters of all the tasks' text fields together, deleted ones and waiting ones included
  /// (as a text document's limit: each takes memory, however few bytes a deleted run is sent in).
  static let maxTextCharacters = 1 << 26
  /// A wall clock at which `TaskRecord` decoding accepts every timestamp (see `init(snapshot:)`).
  static let anyTime: UInt64 = (1 << 48) - 1 - HybridClock.maxDriftMs

  /// This replica. A replica id must not be reused by a replica that lost its state: its new
  /// edits would collide with the old ones.
  let replica: ReplicaID
  var clock: ReplicaClock
  /// The tasks, by the UTF-8 bytes of their ids: Swift's `String` equality is canonical
  /// equivalence, under which ids with different bytes would share a slot and replicas could
  /// keep different bytes for one task.
  var tasks: [[UInt8]: TaskEntry] = [:]
  /// Per replica, the commits integrated: 1 through the counter, without a gap.
  var stateVector = VersionVector()
  /// Tasks changed since the last commit.
  var open: Set<[UInt8]> = []
  /// Updates waiting for an earlier commit of their replica.
  var held: [Dot: Held] = [:]
  var heldBytes = 0
  /// Tasks in held updates: counted as if all were new, so that the tasks here and those that
  /// may come with held updates never pass `maxTasks` together.
  var heldTasks = 0
  /// Sum of the tasks' `size`.
  var entryBytes = 0
  /// Sum of the tasks' `record.textCharacters`.
  var textCharacters = 0

  /// An empty task list edited by `replica`.
  init(replica: ReplicaID) {
    self.replica = replica
    clock = ReplicaClock(replica)
  }

  /// Whether `key` is a task id the document takes: 1 to 256 bytes, no NUL.
  static func isValidID(_ key: [UInt8]) -> Bool { (1...maxIDBytes).contains(key.count) && !key.contains(0) }

  /// The key of task id `id`, or `.invalidArgument`.
  static func key(_ id: String) throws(RealtimeError) -> [UInt8] {
    let key = Array(id.utf8)
    guard isValidID(key) else {
      throw RealtimeError(.invalidArgument, "a task id must be 1 to \(maxIDBytes) bytes of UTF-8 without NUL")
    }
    return key
  }

  /// Remote updates waiting for an earlier commit of their replica.
  var waiting: Int { held.count }
  /// Whether there are local edits not yet committed.
  var hasChanges: Bool { !open.isEmpty }

  // MARK: Local edits

  /// Sets a field of task `id` (created if missing) at wall time `wallMs`, which may be at most
  /// a day ahead of `now`: other replicas refuse timestamps further ahead of their clocks.
  mutating func set(_ field: TaskRecord.Field, of id: String, wallMs: UInt64, now: UInt64) throws(RealtimeError) {
    let key = try Self.key(id)
    let bytes: Int
    let limit: Int
    switch field {
    case .title(let s), .description(let s), .status(let s), .category(let s):
      (bytes, limit) = (s.utf8.count, TaskRecord.maxStringBytes)
    case .position(let p):
      (bytes, limit) = (p.count, TaskRecord.maxPositionBytes)
    case .priority, .dueDate, .deleted:
      (bytes, limit) = (0, 0)
    }
    guard bytes <= limit else { throw RealtimeError(.tooLarge, "a task field of \(bytes) bytes exceeds \(limit)") }
    guard wallMs <= now || wallMs - now <= HybridClock.maxDriftMs else {
      throw RealtimeError(.invalidArgument, "a wall time \(wallMs - now) ms ahead of the clock")
    }
    try edit(key, id) { record, clock throws(RealtimeError) in try record.set(field, by: &clock, wallMs: wallMs) }
  }

  /// Inserts `text` into a text field of task `id` (created if missing) at `position` (Unicode
  /// scalars, or UTF-16 code units with `utf16`; clamped). Inserting nothing changes nothing.
  mutating func insert(
    _ text: String, into field: TaskRecord.TextField, of id: String, at position: Int, utf16: Bool
  ) throws(RealtimeError) {
    let key = try Self.key(id)
    guard !text.isEmpty else { return }
    try edit(key, id) { record, clock throws(RealtimeError) in
      try record.insert(text, into: field, at: position, utf16: utf16, by: clock)
    }
  }

  /// Deletes `length` characters of a text field of task `id` from `position` (units as in
  /// `insert`; clamped); nothing to do when the task or the characters are not there.
  mutating func delete(
    from field: TaskRecord.TextField, of id: String, at position: Int, length: Int, utf16: Bool
  ) throws(RealtimeError) {
    let key = try Self.key(id)
    guard let record = tasks[key]?.record, record[field].deletes(at: position, length: length, utf16: utf16) else {
      return
    }
    try edit(key, id) { record, clock throws(RealtimeError) in
      record.delete(from: field, at: position, length: length, utf16: utf16, by: clock)
    }
  }

  /// Adds `element` to a set of task `id` (created if missing).
  mutating func insert(_ element: String, into field: TaskRecord.SetField, of id: String) throws(RealtimeError) {
    let key = try Self.key(id)
    let bytes = element.utf8.count
    guard bytes <= TaskRecord.maxStringBytes else {
      throw RealtimeError(.tooLarge, "a set element of \(bytes) bytes exceeds \(TaskRecord.maxStringBytes)")
    }
    try edit(key, id) { record, clock in record.insert(element, into: field, by: clock) }
  }

  /// Removes `element` from a set of task `id`; nothing to do when it is not there.
  mutating func remove(_ element: String, from field: TaskRecord.SetField, of id: String) throws(RealtimeError) {
    let key = try Self.key(id)
    guard let record = tasks[key]?.record else { return }
    let present = field == .assignees ? record.assignees.contains(element) : record.tags.contains(element)
    // A remove of an absent element changes nothing and so is no change to commit.
    guard present else { return }
    try edit(key, id) { record, _ in record.remove(element, from: field) }
  }

  /// Applies `change` to task `key`, created if missing, and adds it to the open transaction; a
  /// result past a limit is refused and nothing changes.
  private mutating func edit(
    _ key: [UInt8], _ id: String, _ change: (inout TaskRecord, inout ReplicaClock) throws(RealtimeError) -> Void
  ) throws(RealtimeError) {
    // Taken out while it changes, and put back as it was if the change is refused. (Keeping the
    // old state for that means an edit of a text field copies the field's sequence.)
    let old = tasks.removeValue(forKey: key)
    defer { if tasks[key] == nil, let old { tasks[key] = old } }
    // Only a forged snapshot gets a counter of this replica this far; its next would overflow.
    guard stateVector[replica] < .max, (old?.record.context[replica] ?? 0) < .max else {
      throw RealtimeError(.tooLarge, "this replica's counters are exhausted; edit as a new replica")
    }
    if old == nil {
      guard tasks.count + heldTasks < Self.maxTasks else {
        throw RealtimeError(.tooLarge, "a task list holds at most \(Self.maxTasks) tasks")
      }
    }
    var entry = old ?? TaskEntry(record: TaskRecord(id: id), touched: [:], size: 0)
    var clock = self.clock
    let oldCharacters = old?.record.textCharacters ?? 0
    try change(&entry.record, &clock)
    entry.size = try measure(entry, open: true)
    let bytes = entryBytes - (old?.size ?? 0) + entry.size
    guard bytes <= Self.maxEntryBytes else {
      throw RealtimeError(.tooLarge, "a task list's tasks take at most \(Self.maxEntryBytes) bytes")
    }
    let characters = textCharacters - oldCharacters + entry.record.textCharacters
    guard characters <= Self.maxTextCharacters else {
      throw RealtimeError(.tooLarge, "a task list's text fields hold at most \(Self.maxTextCharacters) characters")
    }
    self.clock = clock
    tasks[key] = entry
    entryBytes = bytes
    textCharacters = characters
    open.insert(key)
  }

  /// The size of `entry` (see `TaskEntry.size`); `.tooLarge` when it is past a limit. An entry
  /// in the open transaction is measured as the commit will send it, stamped with the next
  /// counter, so that a commit never passes a limit an edit did not.
  func measure(_ entry: TaskEntry, open: Bool) throws(RealtimeError) -> Int {
    var touched = entry.touched
    if open { touched[replica] = stateVector[replica] &+ 1 }
    if let problem = entry.record.limitProblem {
      throw RealtimeError(.tooLarge, "task \(entry.record.id) would hold \(problem)")
    }
    guard touched.count <= Self.maxTouched else {
      throw RealtimeError(
        .tooLarge, "task \(entry.record.id) would be changed by more than \(Self.maxTouched) replicas")
    }
    let n = entry.record.encoded().count
    guard n <= TaskRecord.maxEncodedBytes else {
      throw RealtimeError(.tooLarge, "task \(entry.record.id) would take more than \(TaskRecord.maxEncodedBytes) bytes")
    }
    return varintSize(UInt64(n)) + n + countersSize(touched)
  }

  // MARK: Transactions

  /// The update of the tasks changed since the last commit, under this replica's next document
  /// counter, or nil when none changed.
  mutating func commit() -> [UInt8]? {
    guard !open.isEmpty else { return nil }
    let dot = stateVector.next(replica)
    var w = ByteWriter()
    w.byte(TaskListFormat.update)
    w.fixed64(replica.raw)
    w.varint(dot.counter)
    let keys = open.sorted { $0.lexicographicallyPrecedes($1) }
    w.varint(UInt64(keys.count))
    for key in keys {
      // Every open task is here (tasks are never removed), and its size already counts this
      // stamp. Its text fields send their edits since the last commit.
      guard var entry = tasks.removeValue(forKey: key) else { continue }
      entry.touched[replica] = dot.counter
      let title = entry.record.title.commit()
      let description = entry.record.description.commit()
      w.taskEntry(entry, title: title, description: description)
      tasks[key] = entry
    }
    open.removeAll()
    return w.out
  }

  // MARK: Sync

  /// A diff: every task that some commit beyond `seen` changed, under this state vector. The
  /// receiver takes the vector whole, so the tasks must hold every commit up to it: they do,
  /// as each task's touched map names the last commit of each replica that changed it.
  func diff(since seen: VersionVector) -> [UInt8] {
    let entries = tasks.filter { $0.value.touched.contains { $0.value > seen[$0.key] } }
      .sorted { $0.key.lexicographicallyPrecedes($1.key) }
    var w = ByteWriter()
    w.byte(TaskListFormat.diff)
    w.counters(stateVector.counters)
    w.varint(UInt64(entries.count))
    for (_, entry) in entries { w.taskEntry(entry) }
    return w.out
  }

  /// Applies an update or a diff: decoded and checked whole first, so that an error changes
  /// nothing. An update integrates when it is the next commit of its replica and is held when
  /// an earlier one is missing; a diff integrates at once. Held updates that became next are
  /// integrated after either.
  mutating func apply(_ bytes: [UInt8], wallMs: UInt64) throws(RealtimeError) {
    let update = try TaskListUpdate(decoding: bytes, wallMs: wallMs)
    try checkClaims(update)
    switch update.origin {
    case .commit(let dot):
      let known = stateVector[dot.replica]
      if dot.counter <= known { return }  // integrated already
      if dot.counter - 1 == known {
        guard known > 0 || stateVector.counters.count < VersionVector.maxReplicas else {
          throw RealtimeError(.tooLarge, "a task list syncs at most \(VersionVector.maxReplicas) replicas")
        }
        integrate(try merge(update.entries, counted: true), wallMs: wallMs)
        stateVector.observe(dot)
      } else {
        if held[dot] != nil { return }  // held already
        guard held.count < Self.maxHeld, heldBytes + bytes.count <= Self.maxHeldBytes,
          tasks.count + heldTasks + update.entries.count <= Self.maxTasks
        else {
          throw RealtimeError(.tooLarge, "too many updates wait for earlier ones; sync by state vector instead")
        }
        held[dot] = Held(bytes: bytes, update: update)
        heldBytes += bytes.count
        heldTasks += update.entries.count
        return
      }
    case .diff(let seen):
      var vector = stateVector
      vector.merge(seen)
      guard vector.counters.count <= VersionVector.maxReplicas else {
        throw RealtimeError(.tooLarge, "a task list syncs at most \(VersionVector.maxReplicas) replicas")
      }
      integrate(try merge(update.entries, counted: true), wallMs: wallMs)
      stateVector = vector
    }
    drain(wallMs: wallMs)
  }

  /// Refuses an update that holds edits of this replica beyond its own: a document commit, a
  /// touched stamp or a record event it never made. Taking one would make its next edits
  /// collide with them.
  func checkClaims(_ update: TaskListUpdate) throws(RealtimeError) {
    let mine = stateVector[replica]
    var beyond: Bool
    switch update.origin {
    case .commit(let dot): beyond = dot.replica == replica && dot.counter > mine
    case .diff(let seen): beyond = seen[replica] > mine
    }
    for (key, entry) in update.entries where !beyond {
      let here = tasks[key]?.record
      beyond =
        (entry.touched[replica] ?? 0) > mine
        || entry.record.context[replica] > (here?.context[replica] ?? 0)
        || entry.record.title.extent(of: replica) > (here?.title.known(of: replica) ?? 0)
        || entry.record.description.extent(of: replica) > (here?.description.known(of: replica) ?? 0)
    }
    if beyond { throw RealtimeError(.corrupt, "the update holds edits of this replica (\(replica)) it never made") }
  }

  /// What merging `incoming` into the tasks here would leave, checked against every limit;
  /// nothing changes. `counted`: new tasks count against `maxTasks` (tasks of held updates were
  /// counted when they were held).
  func merge(_ incoming: [(key: [UInt8], entry: TaskEntry)], counted: Bool) throws(RealtimeError) -> Merge {
    var out = Merge()
    out.entries.reserveCapacity(incoming.count)
    for (key, theirs) in incoming {
      // A task not here merges into an empty one: its text is integrated here, never taken as
      // it came, so every replica orders the characters by the same rule.
      let old = tasks[key]
      var mine = old ?? TaskEntry(record: TaskRecord(id: theirs.record.id), touched: [:], size: 0)
      if old == nil { out.added += 1 }
      let before = mine.size
      let charactersBefore = mine.record.textCharacters
      try mine.record.merge(theirs.record)
      mine.touched.merge(theirs.touched, uniquingKeysWith: max)
      mine.size = try measure(mine, open: open.contains(key))
      out.bytes += mine.size - before
      out.characters += mine.record.textCharacters - charactersBefore
      // Checked as it grows, so that a hostile update cannot make it allocate much past the limit.
      guard textCharacters + out.characters <= Self.maxTextCharacters else {
        throw RealtimeError(.tooLarge, "a task list's text fields hold at most \(Self.maxTextCharacters) characters")
      }
      out.entries.append((key, mine))
    }
    guard !counted || tasks.count + heldTasks + out.added <= Self.maxTasks else {
      throw RealtimeError(.tooLarge, "a task list holds at most \(Self.maxTasks) tasks")
    }
    guard entryBytes + out.bytes <= Self.maxEntryBytes else {
      throw RealtimeError(.tooLarge, "a task list's tasks take at most \(Self.maxEntryBytes) bytes")
    }
    return out
  }

  /// Stores what `merge` checked, and lets the clock see the tasks' newest timestamps so that
  /// later local writes order after them.
  private mutating func integrate(_ merge: Merge, wallMs: UInt64) {
    for (key, entry) in merge.entries {
      // Decoding bounded every timestamp by the same limit, so this only fails for a held
      // update after the wall clock went back; the clock then keeps its own time.
      try? clock.hlc.observe(entry.record.newestTime, wallMs: wallMs)
      tasks[key] = entry
    }
    entryBytes += merge.bytes
    textCharacters += merge.characters
  }

  /// Drops held updates the state vector now covers and integrates those that became next, in
  /// counter order per replica. Integrating an update advances only its own replica, so one
  /// pass per replica finds everything. One that fails a limit now stays held.
  private mutating func drain(wallMs: UInt64) {
    guard !held.isEmpty else { return }
    for dot in Array(held.keys) where dot.counter <= stateVector[dot.replica] { release(dot) }
    for replica in Set(held.keys.map(\.replica)) {
      while true {
        let dot = Dot(replica, stateVector[replica] &+ 1)
        guard let next = held[dot], let merge = try? merge(next.update.entries, counted: false) else { break }
        release(dot)
        integrate(merge, wallMs: wallMs)
        stateVector.observe(dot)
      }
    }
  }

  /// Forgets a held update.
  private mutating func release(_ dot: Dot) {
    guard let gone = held.removeValue(forKey: dot) else { return }
    heldBytes -= gone.bytes.count
    heldTasks -= gone.update.entries.count
  }
}
