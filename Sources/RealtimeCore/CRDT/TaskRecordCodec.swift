/// The binary encoding of a task record's state (`docs/protocol.md`, "Task records"): canonical,
/// so replicas with equal states have equal bytes; every list sorted and checked on the way in,
/// every length bounded before anything is allocated. Decoding never traps; what does not
/// decode, or decodes to an inconsistent state, is an error and changes nothing.
extension TaskRecord {
  /// Format byte of this encoding (1 was the encoding with title and description as registers).
  static let format: UInt8 = 2
  /// Limits on what a decoded record may hold.
  static let maxEncodedBytes = 1 << 20
  /// Longest string value (a title, a tag...), in bytes.
  public static let maxStringBytes = 64 << 10
  static let maxPositionBytes = 4096
  static let maxLiveWrites = 256
  static let maxElements = 10_000
  static let maxReplicas = 10_000

  /// How a record travels: its whole state (`encoded()`; diffs and snapshots of task lists), or
  /// in a task-list commit, where a text field may instead be a text update of the edits since
  /// the sender's previous commit.
  enum WireForm {
    case state
    case commit
  }

  /// The state as bytes.
  public func encoded() -> [UInt8] { encoded(title: title.encoded(), description: description.encoded()) }

  /// The record with its text fields as given (a commit's text updates, or the raw bytes a
  /// decoded commit held).
  func encoded(title: [UInt8], description: [UInt8]) -> [UInt8] {
    var w = ByteWriter()
    w.byte(Self.format)
    w.bytes(Array(id.utf8))
    let replicas = context.counters.sorted { $0.key < $1.key }
    w.varint(UInt64(replicas.count))
    for (replica, counter) in replicas {
      w.varint(replica.raw)
      w.varint(counter)
    }
    w.bytes(title)
    w.bytes(description)
    for register in [status, category] { w.register(register) { $0.bytes(Array($1.utf8)) } }
    w.register(priority) { $0.varint(zigzag($1)) }
    w.register(dueDate) { w, value in
      w.byte(value == nil ? 0 : 1)
      if let value { w.varint(zigzag(value)) }
    }
    w.register(position) { $0.bytes($1) }
    w.register(deleted) { $0.byte($1 ? 1 : 0) }
    for set in [assignees, tags] {
      let elements = set.adds.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
      w.varint(UInt64(elements.count))
      for (element, dots) in elements {
        w.bytes(Array(element.utf8))
        w.dots(dots.sorted())
      }
    }
    return w.out
  }

  /// Decodes a state; `wallMs` bounds its timestamps (at most a day ahead).
  public init(decoding bytes: [UInt8], wallMs: UInt64) throws(RealtimeError) {
    var texts: (title: Range<Int>, description: Range<Int>) = (0..<0, 0..<0)
    try self.init(decoding: bytes, wallMs: wallMs, form: .state, texts: &texts)
  }

  /// Decodes a record in `form`, and sets `texts` to where its text fields' bytes are (after
  /// their lengths). A state's
  /// text fields are text snapshots whose waiting runs and deletions would not integrate (a
  /// replica integrates what it can at once); a commit's may also be text updates.
  init(
    decoding bytes: [UInt8], wallMs: UInt64, form: WireForm, texts: inout (title: Range<Int>, description: Range<Int>)
  ) throws(RealtimeError) {
    guard bytes.count <= Self.maxEncodedBytes else {
      throw RealtimeError(.tooLarge, "a task record of \(bytes.count) bytes exceeds \(Self.maxEncodedBytes)")
    }
    var r = ByteReader(bytes, what: "task record")
    guard try r.byte() == Self.format else { throw RealtimeError(.version, "unknown task record format") }
    self.init(id: try r.string(max: 256))
    let replicas = try r.count(max: Self.maxReplicas)
    var last: UInt64?
    for _ in 0..<replicas {
      let replica = try r.varint()
      let counter = try r.varint()
      guard last.map({ replica > $0 }) ?? true, counter >= 1 else { throw r.fault("version vector out of order") }
      last = replica
      context.observe(Dot(ReplicaID(replica), counter))
    }
    let maxTime = HybridClock.pack(wallMs &+ HybridClock.maxDriftMs, 0xFFFF)
    let ctx = context
    func strings() throws(RealtimeError) -> MultiValueRegister<String> {
      try r.register(ctx, maxTime) { r throws(RealtimeError) in try r.string(max: Self.maxStringBytes) }
    }
    title = try r.text(form, at: &texts.title)
    description = try r.text(form, at: &texts.description)
    status = try strings()
    category = try strings()
    priority = try r.register(ctx, maxTime) { r throws(RealtimeError) in unzigzag(try r.varint()) }
    dueDate = try r.register(ctx, maxTime) { r throws(RealtimeError) -> Int64? in
      switch try r.byte() {
      case 0: return nil
      case 1: return unzigzag(try r.varint())
      default: throw r.fault("bad due date flag")
      }
    }
    position = try r.register(ctx, maxTime) { r throws(RealtimeError) in try r.data(max: Self.maxPositionBytes) }
    deleted = try r.register(ctx, maxTime) { r throws(RealtimeError) -> Bool in
      switch try r.byte() {
      case 0: return false
      case 1: return true
      default: throw r.fault("bad boolean")
      }
    }
    assignees = try r.set(ctx, max: Self.maxElements)
    tags = try r.set(ctx, max: Self.maxElements)
    guard r.atEnd else { throw r.fault("trailing bytes") }
  }

  /// Merges an encoded state: an error (malformed, inconsistent, another task, timestamps a day
  /// ahead of `wallMs`) leaves this record as it was.
  public mutating func apply(_ bytes: [UInt8], wallMs: UInt64) throws(RealtimeError) {
    try merge(try TaskRecord(decoding: bytes, wallMs: wallMs))
  }
}

/// The pieces of a task record: dots and registers.
extension ByteWriter {
  mutating func dots(_ dots: [Dot]) {
    varint(UInt64(dots.count))
    for dot in dots {
      varint(dot.replica.raw)
      varint(dot.counter)
    }
  }

  mutating func register<V>(_ register: MultiValueRegister<V>, _ value: (inout ByteWriter, V) -> Void) {
    let writes = register.writes.sorted { $0.key < $1.key }
    varint(UInt64(writes.count))
    for (dot, write) in writes {
      varint(dot.replica.raw)
      varint(dot.counter)
      varint(write.time)
      value(&self, write.value)
    }
  }
}

/// The pieces of a task record, checked against its version vector.
extension ByteReader {
  /// A text field (`TaskText`): no bytes for an empty one, else a text snapshot, or in a commit
  /// a text update; within the field's limit of characters, holding something, and in a state
  /// exactly what integrating its characters gives. Its bytes are what the field re-encodes to, or the record's canonical
  /// check refuses them (a commit's text update is taken as it came).
  mutating func text(_ form: TaskRecord.WireForm, at range: inout Range<Int>) throws(RealtimeError) -> TaskText {
    let start = at
    range = try span(max: TaskRecord.maxEncodedBytes)
    let raw = Array(bytes[range])
    guard let first = raw.first else { return TaskText() }
    let max = TaskText.maxCharacters
    // A text's own decoder's error (its format or limits) is this record's corruption.
    func nested(_ error: RealtimeError) -> RealtimeError {
      RealtimeError(
        error.code == .version ? .corrupt : error.code,
        "invalid \(what): the text field at byte \(start): \(error.message)")
    }
    switch first {
    case TextUpdate.format where form == .commit:
      let update: TextUpdate
      do throws(RealtimeError) { update = try TextUpdate(decoding: raw) } catch { throw nested(error) }
      guard !update.isEmpty else { throw fault("an empty text update") }
      guard update.characters <= max else { throw fault("a text field of more than \(max) characters") }
      var state = TextReplica(replica: TaskText.unbound, sequence: TextSequence())
      state.pending = update
      return TaskText(state: state)
    case TextReplica.snapshotFormat:
      let state: TextReplica
      do throws(RealtimeError) {
        state = try TextReplica(replica: TaskText.unbound, snapshot: raw, maxCharacters: max)
      } catch {
        throw nested(error)
      }
      guard state.sequence.characters + state.pending.characters <= max else {
        throw fault("a text field of more than \(max) characters")
      }
      guard state.sequence.characters > 0 || !state.pending.isEmpty else { throw fault("an empty text snapshot") }
      if form == .state {
        // A state holds what integrating its own characters by YATA's rule gives, in its
        // canonical encoding: characters in another order, origins that wait for each other,
        // waiting runs that could integrate, or flags that re-encode otherwise are refused.
        var probe = TaskText()
        try probe.merge(TaskText(state: state))
        guard probe.encoded() == raw else { throw fault("a text snapshot that is not its characters' integration") }
      }
      return TaskText(state: state)
    default:
      throw fault("a text field that is neither a text snapshot nor, in a commit, a text update")
    }
  }

  /// A dot the state's version vector must have seen (a live event it has not seen is
  /// inconsistent).
  mutating func dot(_ context: VersionVector) throws(RealtimeError) -> Dot {
    let dot = Dot(ReplicaID(try varint()), try varint())
    guard dot.counter >= 1, context.contains(dot) else { throw fault("an event the version vector has not seen") }
    return dot
  }

  mutating func register<V>(
    _ context: VersionVector, _ maxTime: UInt64, _ value: (inout ByteReader) throws(RealtimeError) -> V
  ) throws(RealtimeError) -> MultiValueRegister<V> {
    var register = MultiValueRegister<V>()
    var last: Dot?
    for _ in 0..<(try count(max: TaskRecord.maxLiveWrites)) {
      let dot = try dot(context)
      guard last.map({ $0 < dot }) ?? true else { throw fault("writes out of order") }
      last = dot
      let time = try varint()
      guard time <= maxTime else { throw fault("a timestamp more than a day in the future") }
      register.writes[dot] = Timestamped(time: time, value: try value(&self))
    }
    return register
  }

  mutating func set(_ context: VersionVector, max: Int) throws(RealtimeError) -> AddWinsSet<String> {
    var set = AddWinsSet<String>()
    var last: [UInt8]?
    for _ in 0..<(try count(max: max)) {
      let raw = try data(max: TaskRecord.maxStringBytes)
      guard last.map({ $0.lexicographicallyPrecedes(raw) }) ?? true else { throw fault("elements out of order") }
      last = raw
      guard let element = String(validating: raw, as: UTF8.self) else { throw fault("text is not UTF-8") }
      var dots: Set<Dot> = []
      var lastDot: Dot?
      for _ in 0..<(try count(max: TaskRecord.maxLiveWrites)) {
        let dot = try dot(context)
        guard lastDot.map({ $0 < dot }) ?? true else { throw fault("events out of order") }
        lastDot = dot
        dots.insert(dot)
      }
      guard !dots.isEmpty else { throw fault("an element without an event") }
      // Two spellings Swift deems equal would become one element and re-encode differently.
      guard set.adds[element] == nil else { throw fault("two spellings of one element") }
      set.adds[element] = dots
    }
    return set
  }
}
