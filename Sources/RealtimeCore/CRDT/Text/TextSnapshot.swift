/// The whole state of a text document in one canonical encoding (`docs/protocol.md`, "Text
/// snapshots"): the runs in document order with their ids and origins, then the visible text in
/// one piece, then whatever waits for its dependencies. Origins that point at the neighbouring
/// run, and clocks that continue a replica's previous run, take a flag bit instead of bytes.
/// Runs that continue each other are merged first, so replicas in the same state write the same
/// bytes. Loading rebuilds the runs directly, with no integration.
extension TextReplica {
  static let snapshotFormat: UInt8 = 0x02

  enum SnapshotFlag {
    static let deleted: UInt8 = 1
    static let sameReplica: UInt8 = 2
    static let originLeft: UInt8 = 4
    static let originLeftIsPrevious: UInt8 = 8
    static let originRight: UInt8 = 16
    static let originRightIsNext: UInt8 = 32
    static let all: UInt8 = 63
  }

  /// The document's state, canonical: equal states give equal bytes.
  func snapshot() -> [UInt8] {
    var spans: [TextSpan] = []
    sequence.forEachSpan { s in
      if let last = spans.last, last.isContinued(by: s) {
        spans[spans.count - 1].length += s.length
      } else {
        spans.append(s)
      }
    }
    // The table in replica id order, so it does not depend on arrival order.
    let order = sequence.replicas.indices.filter { sequence.known($0) > 0 }.sorted {
      sequence.replicas[$0] < sequence.replicas[$1]
    }
    var slot = [Int](repeating: 0, count: sequence.replicas.count)
    for (i, r) in order.enumerated() { slot[r] = i }
    var w = ByteWriter()
    w.byte(Self.snapshotFormat)
    w.varint(UInt64(order.count))
    for r in order {
      w.fixed64(sequence.replicas[r].raw)
      w.varint(UInt64(sequence.known(r)))
    }
    w.varint(UInt64(spans.count))
    var lastEnd = [Int](repeating: 0, count: sequence.replicas.count)
    var previous: TextSpan?
    for (i, s) in spans.enumerated() {
      let next = i + 1 < spans.count ? spans[i + 1].id : TextSpan.none
      var flags: UInt8 = s.deleted ? SnapshotFlag.deleted : 0
      if let previous, previous.replica == s.replica { flags |= SnapshotFlag.sameReplica }
      if s.originLeft != TextSpan.none {
        flags |= s.originLeft == previous?.last ? SnapshotFlag.originLeftIsPrevious : SnapshotFlag.originLeft
      }
      if s.originRight != TextSpan.none {
        flags |= s.originRight == next ? SnapshotFlag.originRightIsNext : SnapshotFlag.originRight
      }
      w.byte(flags)
      if flags & SnapshotFlag.sameReplica == 0 { w.varint(UInt64(slot[s.replica])) }
      w.varint(zigzag(Int64(s.clock - lastEnd[s.replica])))
      w.varint(UInt64(s.length))
      if flags & SnapshotFlag.originLeft != 0 { origin(s.originLeft) }
      if flags & SnapshotFlag.originRight != 0 { origin(s.originRight) }
      lastEnd[s.replica] = s.clock + Int(s.length)
      previous = s
    }
    w.bytes(sequence.utf8())
    w.bytes(pending.isEmpty ? [] : pending.encoded())
    return w.out

    func origin(_ id: UInt64) {
      w.varint(UInt64(slot[Int(id >> 32)]))
      w.varint(id & 0xFFFF_FFFF)
    }
  }

  /// A document loaded from `snapshot`, edited from now on by `replica`. Throws for a snapshot
  /// that does not decode or is inconsistent (a character missing or placed twice, an origin
  /// that is not there, text that does not match the runs).
  init(replica: ReplicaID, snapshot bytes: [UInt8]) throws(RealtimeError) {
    guard bytes.count <= TextUpdate.maxBytes else {
      throw RealtimeError(.tooLarge, "a text snapshot of \(bytes.count) bytes exceeds \(TextUpdate.maxBytes)")
    }
    var r = ByteReader(bytes, what: "text snapshot")
    guard try r.byte() == Self.snapshotFormat else {
      throw RealtimeError(.version, "not a text snapshot (unknown format byte)")
    }
    var sequence = TextSequence()
    var known: [Int] = []
    var total = 0
    var last: ReplicaID?
    for _ in 0..<(try r.count(max: TextUpdate.maxReplicas)) {
      let id = ReplicaID(try r.fixed64())
      guard last.map({ $0 < id }) ?? true else { throw r.fault("replicas out of order") }
      last = id
      let n = Int(try r.varint(max: UInt64(TextSequence.maxClock)))
      total += n
      guard n > 0, total <= TextSequence.maxCharacters else { throw r.fault("bad character count") }
      _ = sequence.index(of: id)
      known.append(n)
    }
    // The runs first, checked, before the slots are sized.
    var spans: [TextSpan] = []
    var lastEnd = [Int](repeating: 0, count: known.count)
    var covered = [Int](repeating: 0, count: known.count)
    var visible = 0
    var rightIsNext: Int?
    let count = try r.count(max: total)
    spans.reserveCapacity(count)
    for _ in 0..<count {
      let flags = try r.byte()
      guard flags & ~SnapshotFlag.all == 0 else { throw r.fault("unknown run flags") }
      let previous = spans.last
      let replica: Int
      if flags & SnapshotFlag.sameReplica != 0 {
        guard let previous else { throw r.fault("no previous run") }
        replica = previous.replica
      } else {
        replica = Int(try r.varint(max: UInt64(known.count)))
        guard replica < known.count else { throw r.fault("replica index out of the table") }
      }
      let clock = Int64(lastEnd[replica]) + unzigzag(try r.varint())
      let length = Int(try r.varint(max: UInt64(TextSequence.maxClock)))
      guard clock >= 0, length >= 1, clock + Int64(length) <= Int64(known[replica]) else {
        throw r.fault("a run outside its replica's characters")
      }
      var span = TextSpan(
        id: textID(replica, Int(clock)), length: UInt32(length), deleted: flags & SnapshotFlag.deleted != 0,
        originLeft: TextSpan.none, originRight: TextSpan.none)
      if flags & SnapshotFlag.originLeftIsPrevious != 0 {
        guard let previous, flags & SnapshotFlag.originLeft == 0 else { throw r.fault("bad left origin") }
        span.originLeft = previous.last
      } else if flags & SnapshotFlag.originLeft != 0 {
        span.originLeft = try origin(&r)
      }
      if flags & SnapshotFlag.originRight != 0 {
        guard flags & SnapshotFlag.originRightIsNext == 0 else { throw r.fault("bad right origin") }
        span.originRight = try origin(&r)
      }
      if let rightIsNext, rightIsNext == spans.count - 1 { spans[rightIsNext].originRight = span.id }
      rightIsNext = flags & SnapshotFlag.originRightIsNext != 0 ? spans.count : nil
      lastEnd[replica] = Int(clock) + length
      covered[replica] += length
      if !span.deleted { visible += length }
      spans.append(span)
    }
    guard rightIsNext == nil else { throw r.fault("the last run's right origin is the next run") }
    guard covered == known else { throw r.fault("the runs do not cover every character once") }
    let textRange = try r.span(max: visible * 4)
    guard let text = String(validating: bytes[textRange], as: UTF8.self) else { throw r.fault("text is not UTF-8") }
    let pendingRange = try r.span(max: r.remaining)
    guard r.atEnd else { throw r.fault("trailing bytes") }
    let held = pendingRange.isEmpty ? TextUpdate() : try TextUpdate(decoding: Array(bytes[pendingRange]))

    for (i, n) in known.enumerated() { sequence.reserve(i, count: n) }
    var scalars = text.unicodeScalars.makeIterator()
    var buffer: [Unicode.Scalar] = []
    for span in spans {
      buffer.removeAll(keepingCapacity: true)
      if !span.deleted {
        for _ in 0..<span.length {
          guard let s = scalars.next() else { throw r.fault("text shorter than the runs") }
          buffer.append(s)
        }
      }
      guard sequence.load(span, scalars: buffer) else { throw r.fault("a character placed twice") }
    }
    guard scalars.next() == nil else { throw r.fault("text longer than the runs") }
    for span in spans {
      for origin in [span.originLeft, span.originRight] where origin != TextSpan.none && !sequence.has(origin) {
        throw r.fault("an origin that is not there")
      }
    }
    self.init(replica: replica, sequence: sequence)
    pending = held

    func origin(_ r: inout ByteReader) throws(RealtimeError) -> UInt64 {
      let replica = Int(try r.varint(max: UInt64(known.count)))
      guard replica < known.count else { throw r.fault("replica index out of the table") }
      let clock = Int(try r.varint(max: UInt64(known[replica] - 1)))
      return textID(replica, clock)
    }
  }
}
