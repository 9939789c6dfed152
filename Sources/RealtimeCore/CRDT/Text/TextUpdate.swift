/// A text update as it travels (`docs/protocol.md`, "Text updates"): runs of inserted
/// characters, each with its origins, and runs of deleted ids. Replica ids sit once in a table
/// at the front; everything else refers to them by index. Decoding checks every field and every
/// limit before anything is applied, so a malformed update changes nothing.
struct TextUpdate {
  /// A character named outside any document's table.
  struct ID: Equatable {
    var replica: ReplicaID
    var clock: Int
  }

  /// Inserted characters `clock ..< clock + length` of `replica`; `content` is their range in
  /// `scalars`, nil when the sender deleted them and sent only their ids.
  struct Run {
    var replica: ReplicaID
    var clock: Int
    var length: Int
    var originLeft: ID?
    var originRight: ID?
    var content: Range<Int>?
  }

  /// Deleted characters `clock ..< clock + length` of `replica`.
  struct Deletion {
    var replica: ReplicaID
    var clock: Int
    var length: Int
  }

  var runs: [Run] = []
  var deletions: [Deletion] = []
  var scalars: [Unicode.Scalar] = []

  static let format: UInt8 = 0x01
  static let maxBytes = 32 << 20
  static let maxReplicas = 1 << 16

  enum Flag {
    static let noContent: UInt8 = 1
    static let originLeft: UInt8 = 2
    static let originLeftIsPrevious: UInt8 = 4
    static let originRight: UInt8 = 8
    static let all: UInt8 = 15
  }

  init() {}

  var isEmpty: Bool { runs.isEmpty && deletions.isEmpty }
  var characters: Int { runs.reduce(0) { $0 + $1.length } }

  init(decoding bytes: [UInt8]) throws(RealtimeError) {
    guard bytes.count <= Self.maxBytes else {
      throw RealtimeError(.tooLarge, "a text update of \(bytes.count) bytes exceeds \(Self.maxBytes)")
    }
    var r = ByteReader(bytes, what: "text update")
    guard try r.byte() == Self.format else { throw RealtimeError(.version, "not a text update (unknown format byte)") }
    let replicaCount = try r.count(max: Self.maxReplicas)
    var table: [ReplicaID] = []
    var seen = Set<ReplicaID>()
    for _ in 0..<replicaCount {
      let id = ReplicaID(try r.fixed64())
      guard seen.insert(id).inserted else { throw r.fault("replica listed twice") }
      table.append(id)
    }
    func replica(_ r: inout ByteReader) throws(RealtimeError) -> ReplicaID {
      let i = try r.varint(max: UInt64(table.count))
      guard i < UInt64(table.count) else { throw r.fault("replica index out of the table") }
      return table[Int(i)]
    }
    let maxClock = UInt64(TextSequence.maxClock)
    var total = 0
    for _ in 0..<(try r.count(max: TextSequence.maxCharacters)) {
      let who = try replica(&r)
      let clock = Int(try r.varint(max: maxClock - 1))
      let length = Int(try r.varint(max: maxClock - UInt64(clock)))
      guard length >= 1 else { throw r.fault("an empty run") }
      total += length
      guard total <= TextSequence.maxCharacters else {
        throw r.fault("more than \(TextSequence.maxCharacters) characters")
      }
      let flags = try r.byte()
      guard flags & ~Flag.all == 0 else { throw r.fault("unknown run flags") }
      var run = Run(replica: who, clock: clock, length: length, originLeft: nil, originRight: nil, content: nil)
      if flags & Flag.originLeftIsPrevious != 0 {
        guard clock >= 1, flags & Flag.originLeft == 0 else { throw r.fault("bad left origin") }
        run.originLeft = ID(replica: who, clock: clock - 1)
      } else if flags & Flag.originLeft != 0 {
        run.originLeft = try id(&r)
      }
      if flags & Flag.originRight != 0 { run.originRight = try id(&r) }
      // An origin is a character typed before: one of the same replica must come earlier.
      for origin in [run.originLeft, run.originRight] {
        if let origin, origin.replica == who, origin.clock >= clock {
          throw r.fault("a run refers to a character its replica typed after it")
        }
      }
      if flags & Flag.noContent == 0 {
        let range = try r.span(max: length * 4)
        let start = scalars.count
        guard let text = String(validating: bytes[range], as: UTF8.self) else { throw r.fault("content is not UTF-8") }
        scalars.append(contentsOf: text.unicodeScalars)
        guard scalars.count - start == length else { throw r.fault("content does not match the run's length") }
        run.content = start..<scalars.count
      }
      runs.append(run)
    }
    for _ in 0..<(try r.count(max: TextSequence.maxCharacters)) {
      let who = try replica(&r)
      let clock = Int(try r.varint(max: maxClock - 1))
      let length = Int(try r.varint(max: maxClock - UInt64(clock)))
      guard length >= 1 else { throw r.fault("an empty deletion") }
      deletions.append(Deletion(replica: who, clock: clock, length: length))
    }
    guard r.atEnd else { throw r.fault("trailing bytes") }

    func id(_ r: inout ByteReader) throws(RealtimeError) -> ID {
      ID(replica: try replica(&r), clock: Int(try r.varint(max: maxClock - 1)))
    }
  }

  /// The update as bytes.
  func encoded() -> [UInt8] {
    var table: [ReplicaID] = []
    var index: [ReplicaID: Int] = [:]
    func slot(_ id: ReplicaID) -> Int {
      if let i = index[id] { return i }
      index[id] = table.count
      table.append(id)
      return table.count - 1
    }
    for run in runs {
      _ = slot(run.replica)
      if let o = run.originLeft { _ = slot(o.replica) }
      if let o = run.originRight { _ = slot(o.replica) }
    }
    for d in deletions { _ = slot(d.replica) }
    var w = ByteWriter()
    w.byte(Self.format)
    w.varint(UInt64(table.count))
    for id in table { w.fixed64(id.raw) }
    w.varint(UInt64(runs.count))
    var utf8: [UInt8] = []
    for run in runs {
      w.varint(UInt64(slot(run.replica)))
      w.varint(UInt64(run.clock))
      w.varint(UInt64(run.length))
      var flags: UInt8 = run.content == nil ? Flag.noContent : 0
      let previous = run.originLeft == ID(replica: run.replica, clock: run.clock - 1)
      if previous { flags |= Flag.originLeftIsPrevious } else if run.originLeft != nil { flags |= Flag.originLeft }
      if run.originRight != nil { flags |= Flag.originRight }
      w.byte(flags)
      if let o = run.originLeft, !previous {
        w.varint(UInt64(slot(o.replica)))
        w.varint(UInt64(o.clock))
      }
      if let o = run.originRight {
        w.varint(UInt64(slot(o.replica)))
        w.varint(UInt64(o.clock))
      }
      if let content = run.content {
        utf8.removeAll(keepingCapacity: true)
        for s in scalars[content] { appendUTF8(s.value, to: &utf8) }
        w.bytes(utf8)
      }
    }
    w.varint(UInt64(deletions.count))
    for d in deletions {
      w.varint(UInt64(slot(d.replica)))
      w.varint(UInt64(d.clock))
      w.varint(UInt64(d.length))
    }
    return w.out
  }
}
