/// The format bytes of a task list's encodings (`docs/protocol.md`, "Task lists"): distinct from
/// the text kind's, so bytes handed to the wrong kind of document are refused as `.version`.
enum TaskListFormat {
  static let update: UInt8 = 0x21
  static let diff: UInt8 = 0x22
  static let snapshot: UInt8 = 0x23
}

/// One task of a task list: its state, and per replica the highest document counter of that
/// replica whose update changed it, which `diff(since:)` selects tasks by.
struct TaskEntry {
  var record: TaskRecord
  var touched: [ReplicaID: UInt64]
  /// What the entry takes in a snapshot (the record's encoding with its length, and the touched
  /// map, counting the open transaction's next counter), for the document's size limit.
  var size: Int
}

/// A task-list update (the tasks one commit changed, under the commit's document dot) or diff
/// (the tasks a replica lacks, under the sender's state vector), decoded and checked whole
/// before anything is applied, so a malformed one changes nothing.
struct TaskListUpdate {
  /// What the update stands for.
  enum Origin {
    /// One commit of a replica: its document-level dot.
    case commit(Dot)
    /// Everything the sender had integrated: its state vector.
    case diff(VersionVector)
  }

  var origin: Origin
  /// Tasks ascending by the UTF-8 bytes of their ids.
  var entries: [(key: [UInt8], entry: TaskEntry)]

  /// Decodes an update or a diff; `wallMs` bounds the records' timestamps (at most a day ahead).
  init(decoding bytes: [UInt8], wallMs: UInt64) throws(RealtimeError) {
    guard bytes.count <= TaskListReplica.maxMessageBytes else {
      throw RealtimeError(
        .tooLarge, "a task list update of \(bytes.count) bytes exceeds \(TaskListReplica.maxMessageBytes)")
    }
    var r = ByteReader(bytes, what: "task list update")
    switch try r.byte() {
    case TaskListFormat.update:
      let replica = ReplicaID(try r.fixed64())
      let counter = try r.varint()
      guard counter >= 1 else { throw r.fault("a zero counter") }
      origin = .commit(Dot(replica, counter))
    case TaskListFormat.diff:
      origin = .diff(try r.stateVector())
    default:
      throw RealtimeError(.version, "not a task list update or diff (unknown format byte)")
    }
    let form: TaskRecord.WireForm
    if case .commit = origin { form = .commit } else { form = .state }
    entries = try r.taskEntries(wallMs: wallMs, touchedRequired: true, form: form)
    if case .commit(let dot) = origin {
      guard !entries.isEmpty else { throw r.fault("an update that changes no task") }
      // The sender stamped every task of the commit with its dot: anything else is forged.
      for (_, entry) in entries where entry.touched[dot.replica] != dot.counter {
        throw r.fault("a task not stamped with the update's own counter")
      }
    }
    guard r.atEnd else { throw r.fault("trailing bytes") }
  }
}

extension TaskRecord {
  /// Why this state would break a decoder's limit, or nil. Decoded states are within them, but
  /// joining two such states can pass them, and a state a replica holds must stay one that
  /// every other replica accepts.
  var limitProblem: String? {
    guard context.counters.count <= Self.maxReplicas else { return "more than \(Self.maxReplicas) replicas" }
    for text in [title, description] where text.characters > TaskText.maxCharacters {
      return "more than \(TaskText.maxCharacters) characters in a text field"
    }
    let writes = [
      status.writes.count, category.writes.count,
      priority.writes.count, dueDate.writes.count, position.writes.count, deleted.writes.count,
    ]
    guard writes.allSatisfy({ $0 <= Self.maxLiveWrites }) else {
      return "more than \(Self.maxLiveWrites) concurrent values in a field"
    }
    for set in [assignees, tags] {
      guard set.adds.count <= Self.maxElements else { return "more than \(Self.maxElements) elements in a set" }
      guard set.adds.values.allSatisfy({ $0.count <= Self.maxLiveWrites }) else {
        return "more than \(Self.maxLiveWrites) concurrent adds of an element"
      }
    }
    return nil
  }
}

/// The pieces of the task-list encodings.
extension ByteWriter {
  /// Replica → counter pairs laid out as a state vector's encoding (`VersionVector.encoded()`):
  /// a count, then per replica in id order its id (8 bytes, little-endian) and its counter.
  mutating func counters(_ map: [ReplicaID: UInt64]) {
    let entries = map.filter { $0.value > 0 }.sorted { $0.key < $1.key }
    varint(UInt64(entries.count))
    for (replica, counter) in entries {
      fixed64(replica.raw)
      varint(counter)
    }
  }

  /// A task: its record's encoding as bytes, then its touched map.
  mutating func taskEntry(_ entry: TaskEntry) {
    bytes(entry.record.encoded())
    counters(entry.touched)
  }

  /// A task as a commit sends it: its record with the text fields given, then its touched map.
  mutating func taskEntry(_ entry: TaskEntry, title: [UInt8], description: [UInt8]) {
    bytes(entry.record.encoded(title: title, description: description))
    counters(entry.touched)
  }
}

/// Bytes of `value` as a varint.
func varintSize(_ value: UInt64) -> Int {
  var n = 1
  var v = value
  while v >= 0x80 {
    v >>= 7
    n += 1
  }
  return n
}

/// Bytes of `ByteWriter.counters(map)` (every counter non-zero).
func countersSize(_ map: [ReplicaID: UInt64]) -> Int {
  map.values.reduce(varintSize(UInt64(map.count))) { $0 + 8 + varintSize($1) }
}

/// The pieces of the task-list encodings, checked on the way in.
extension ByteReader {
  /// Replica → counter pairs as `ByteWriter.counters` writes them: ascending, counters >= 1.
  mutating func counters(max: Int) throws(RealtimeError) -> [ReplicaID: UInt64] {
    let n = try count(max: max)
    var map: [ReplicaID: UInt64] = [:]
    map.reserveCapacity(n)
    var last: ReplicaID?
    for _ in 0..<n {
      let replica = ReplicaID(try fixed64())
      let counter = try varint()
      guard last.map({ $0 < replica }) ?? true, counter > 0 else {
        throw fault("replicas out of order or a zero counter")
      }
      last = replica
      map[replica] = counter
    }
    return map
  }

  /// A state vector, inline.
  mutating func stateVector() throws(RealtimeError) -> VersionVector {
    var vector = VersionVector()
    for (replica, counter) in try counters(max: VersionVector.maxReplicas) { vector.observe(Dot(replica, counter)) }
    return vector
  }

  /// A count of tasks, then the tasks, ascending by id bytes. A task's record must be in its
  /// canonical encoding, so that what loads writes back the same bytes; its id is 1 to 256
  /// bytes without NUL, as the local edits require. `touchedRequired`: every task must name the
  /// updates that changed it (in a snapshot, a task only the open transaction made has none).
  /// `form`: records in a commit may carry text updates, taken as they came. The text fields'
  /// characters together stay within the document's limit, checked as they decode.
  mutating func taskEntries(wallMs: UInt64, touchedRequired: Bool, form: TaskRecord.WireForm = .state)
    throws(RealtimeError) -> [(key: [UInt8], entry: TaskEntry)]
  {
    let n = try count(max: TaskListReplica.maxTasks)
    var entries: [(key: [UInt8], entry: TaskEntry)] = []
    entries.reserveCapacity(n)
    var characters = 0
    for _ in 0..<n {
      let start = at
      let raw = try data(max: TaskRecord.maxEncodedBytes)
      let record: TaskRecord
      var texts: (title: Range<Int>, description: Range<Int>) = (0..<0, 0..<0)
      do throws(RealtimeError) {
        record = try TaskRecord(decoding: raw, wallMs: wallMs, form: form, texts: &texts)
      } catch {
        throw RealtimeError(error.code, "invalid \(what): the task at byte \(start): \(error.message)")
      }
      let canonical =
        form == .state
        ? record.encoded()
        : record.encoded(title: Array(raw[texts.title]), description: Array(raw[texts.description]))
      guard canonical == raw else { throw fault("a task record not in its canonical encoding") }
      characters += record.textCharacters
      guard characters <= TaskListReplica.maxTextCharacters else {
        throw RealtimeError(
          .tooLarge, "a task list's text fields hold at most \(TaskListReplica.maxTextCharacters) characters")
      }
      let key = Array(record.id.utf8)
      guard TaskListReplica.isValidID(key) else { throw fault("an empty task id, or one holding NUL") }
      guard entries.last.map({ $0.key.lexicographicallyPrecedes(key) }) ?? true else {
        throw fault("tasks out of order")
      }
      let touched = try counters(max: TaskListReplica.maxTouched)
      guard !touched.isEmpty || !touchedRequired else { throw fault("a task no update changed") }
      entries.append((key, TaskEntry(record: record, touched: touched, size: at - start)))
    }
    return entries
  }
}
