/// The whole state of a text document in one canonical encoding (`docs/protocol.md`, "Text
/// snapshots"): the runs in document order with their ids and origins, then the visible text in
/// one piece, then whatever waits for its dependencies. Origins that point at the neighbouring
/// run, and clocks that continue a replica's previous run, take a flag bit instead of bytes.
/// Runs that continue each other are merged first, so replicas in the same state write the same
/// bytes. Loading rebuilds the runs directly, with no integration.
extension TextReplica {
  static let snapshotFormat: UInt8 = 0x02

  /// How an origin is written: nothing (`none`), a neighbour's id or origin (no bytes), or the
  /// id itself — as a clock relative to the span's when it is a character of the span's own
  /// replica (usually one byte), else as replica and clock.
  enum OriginMode: Int {
    case none = 0
    /// Left: the previous span's last character. Right: the next span's first.
    case neighbour = 1
    /// Left: the previous span's left origin. Right: the next span's right origin.
    case neighbourOrigin = 2
    case ownReplica = 3
    case otherReplica = 4

    var isWritten: Bool { self == .ownReplica || self == .otherReplica }
  }

  /// A span's head byte, in mixed radix: left mode (5) × right mode (5) × deleted × same replica
  /// as the previous span × length one (no length field). 200 values; a third of the spans of
  /// a typed document are one character long.
  struct SpanHead: Equatable {
    var left: OriginMode
    var right: OriginMode
    var deleted: Bool
    var sameReplica: Bool
    var lengthOne: Bool

    var byte: UInt8 {
      var v = left.rawValue * 5 + right.rawValue
      v = v * 2 + (deleted ? 1 : 0)
      v = v * 2 + (sameReplica ? 1 : 0)
      v = v * 2 + (lengthOne ? 1 : 0)
      return UInt8(v)
    }

    init(left: OriginMode, right: OriginMode, deleted: Bool, sameReplica: Bool, lengthOne: Bool) {
      (self.left, self.right, self.deleted, self.sameReplica, self.lengthOne) =
        (left, right, deleted, sameReplica, lengthOne)
    }

    init?(_ byte: UInt8) {
      var v = Int(byte)
      guard v < 200 else { return nil }
      lengthOne = v % 2 == 1
      v /= 2
      sameReplica = v % 2 == 1
      v /= 2
      deleted = v % 2 == 1
      v /= 2
      guard let right = OriginMode(rawValue: v % 5), let left = OriginMode(rawValue: v / 5) else { return nil }
      self.left = left
      self.right = right
    }
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
    for (i, s) in spans.enumerated() {
      let previous = i > 0 ? spans[i - 1] : nil
      let next = i + 1 < spans.count ? spans[i + 1] : nil
      func mode(_ origin: UInt64, _ neighbour: UInt64?, _ neighbourOrigin: UInt64?) -> OriginMode {
        if origin == TextSpan.none { return .none }
        if origin == neighbour { return .neighbour }
        if origin == neighbourOrigin { return .neighbourOrigin }
        return Int(origin >> 32) == s.replica ? .ownReplica : .otherReplica
      }
      let head = SpanHead(
        left: mode(s.originLeft, previous?.last, previous?.originLeft),
        right: mode(s.originRight, next?.id, next?.originRight), deleted: s.deleted,
        sameReplica: previous?.replica == s.replica, lengthOne: s.length == 1)
      w.byte(head.byte)
      if !head.sameReplica { w.varint(UInt64(slot[s.replica])) }
      w.varint(zigzag(Int64(s.clock - lastEnd[s.replica])))
      if !head.lengthOne { w.varint(UInt64(s.length)) }
      if head.left.isWritten { origin(s.originLeft, of: s, own: head.left == .ownReplica) }
      if head.right.isWritten { origin(s.originRight, of: s, own: head.right == .ownReplica) }
      lastEnd[s.replica] = s.clock + Int(s.length)
    }
    w.bytes(sequence.utf8())
    w.bytes(pending.isEmpty ? [] : pending.encoded())
    return w.out

    func origin(_ id: UInt64, of span: TextSpan, own: Bool) {
      let clock = Int(id & 0xFFFF_FFFF)
      if own {
        w.varint(zigzag(Int64(clock - span.clock)))
      } else {
        w.varint(UInt64(slot[Int(id >> 32)]))
        w.varint(UInt64(clock))
      }
    }
  }

  /// A document loaded from `snapshot`, edited from now on by `replica`. Throws for a snapshot
  /// that does not decode or is inconsistent (a character missing or placed twice, an origin
  /// that is not there, text that does not match the runs), or that holds more than
  /// `maxCharacters` characters, deleted ones included (refused before anything is allocated).
  init(
    replica: ReplicaID, snapshot bytes: [UInt8], maxCharacters: Int = TextSequence.maxCharacters
  ) throws(RealtimeError) {
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
      guard n > 0, total <= maxCharacters else { throw r.fault("bad character count") }
      _ = sequence.index(of: id)
      known.append(n)
    }
    // The runs first, checked, before the slots are sized.
    var spans: [TextSpan] = []
    var lastEnd = [Int](repeating: 0, count: known.count)
    var covered = [Int](repeating: 0, count: known.count)
    var visible = 0
    var rightModes: [OriginMode] = []
    let count = try r.count(max: total)
    spans.reserveCapacity(count)
    for _ in 0..<count {
      guard let head = SpanHead(try r.byte()) else { throw r.fault("unknown span head") }
      let previous = spans.last
      let replica: Int
      if head.sameReplica {
        guard let previous else { throw r.fault("no previous run") }
        replica = previous.replica
      } else {
        replica = Int(try r.varint(max: UInt64(known.count)))
        guard replica < known.count else { throw r.fault("replica index out of the table") }
      }
      let clock = Int64(lastEnd[replica]) + unzigzag(try r.varint())
      let length = head.lengthOne ? 1 : Int(try r.varint(max: UInt64(TextSequence.maxClock)))
      guard clock >= 0, length >= 1, clock + Int64(length) <= Int64(known[replica]) else {
        throw r.fault("a run outside its replica's characters")
      }
      var span = TextSpan(
        id: textID(replica, Int(clock)), length: UInt32(length), deleted: head.deleted,
        originLeft: TextSpan.none, originRight: TextSpan.none)
      let right = head.right
      switch head.left {
      case .none: break
      case .neighbour, .neighbourOrigin:
        guard let previous else { throw r.fault("no previous span") }
        span.originLeft = head.left == .neighbour ? previous.last : previous.originLeft
        guard span.originLeft != TextSpan.none else { throw r.fault("a left origin that is none") }
      case .ownReplica, .otherReplica: span.originLeft = try origin(&r, of: span, own: head.left == .ownReplica)
      }
      if right.isWritten { span.originRight = try origin(&r, of: span, own: right == .ownReplica) }
      rightModes.append(right)
      lastEnd[replica] = Int(clock) + length
      covered[replica] += length
      if !span.deleted { visible += length }
      spans.append(span)
    }
    // Right origins that name the next span come last: from the end, each next one is resolved.
    for i in spans.indices.reversed() where rightModes[i] == .neighbour || rightModes[i] == .neighbourOrigin {
      guard i + 1 < spans.count else { throw r.fault("the last span's right origin is the next span") }
      spans[i].originRight = rightModes[i] == .neighbour ? spans[i + 1].id : spans[i + 1].originRight
      guard spans[i].originRight != TextSpan.none else { throw r.fault("a right origin that is none") }
    }
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
      for origin in [span.originLeft, span.originRight] where origin != TextSpan.none {
        guard sequence.has(origin) else { throw r.fault("an origin that is not there") }
        // An origin was typed before its span: one of the same replica has an earlier clock.
        if Int(origin >> 32) == span.replica && Int(origin & 0xFFFF_FFFF) >= span.clock {
          throw r.fault("a span whose origin its replica typed after it")
        }
      }
    }
    self.init(replica: replica, sequence: sequence)
    pending = held

    func origin(_ r: inout ByteReader, of span: TextSpan, own: Bool) throws(RealtimeError) -> UInt64 {
      if own {
        let clock = Int64(span.clock) + unzigzag(try r.varint())
        guard clock >= 0, clock < Int64(known[span.replica]) else { throw r.fault("an origin that is not there") }
        return textID(span.replica, Int(clock))
      }
      let replica = Int(try r.varint(max: UInt64(known.count)))
      guard replica < known.count else { throw r.fault("replica index out of the table") }
      let clock = Int(try r.varint(max: UInt64(known[replica] - 1)))
      return textID(replica, clock)
    }
  }
}
