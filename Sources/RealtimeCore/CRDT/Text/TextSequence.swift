/// The characters of a text document in order, deleted ones included as tombstones, stored as
/// runs (`TextSpan`) in chunks of at most `chunkCapacity` runs, each chunk with its count of
/// visible characters. A cursor remembers the chunk of the last edit and how many visible
/// characters come before it, so edits near the last one (most edits) find their place without
/// scanning the document. Each character's content and chunk are kept per replica, indexed by
/// clock, which finds a character by id in one lookup and a scan of one chunk.
///
/// A value type driven by `TextDocument`: one exclusive access covers a whole edit.
struct TextSequence {
  static let chunkCapacity = 64
  /// Clocks per replica and characters per document, deleted ones included.
  static let maxClock = 1 << 28
  static let maxCharacters = 1 << 24

  struct Chunk {
    var spans: [TextSpan]
    var visible: Int
    var utf16: Int
  }

  /// One character: its scalar (0 for deleted characters whose content was never received) and
  /// the chunk that holds it.
  struct Slot {
    var scalar: UInt32
    var chunk: UInt32
  }

  /// A position in the run list.
  struct Place {
    var chunk: Int
    var span: Int
  }

  private(set) var replicas: [ReplicaID] = []
  private var indexOfReplica: [ReplicaID: Int] = [:]
  /// Per replica, per clock.
  private(set) var slots: [[Slot]] = []
  private(set) var chunks: [Chunk] = [Chunk(spans: [], visible: 0, utf16: 0)]
  /// Chunk ids in document order, and each chunk's place in it.
  private(set) var order: [Int32] = [0]
  private var rank: [Int32] = [0]
  private(set) var count = 0
  private(set) var utf16Count = 0
  private(set) var characters = 0
  private var cursorRank = 0
  private var cursorPrefix = 0
  private var oversized: [Int] = []
  /// Scratch space of the YATA scan: the runs passed, as id ranges.
  private var scanned: [(UInt64, UInt64)] = []

  // MARK: Replicas

  /// The index of `replica` in the table, adding it if new.
  mutating func index(of replica: ReplicaID) -> Int {
    if let i = indexOfReplica[replica] { return i }
    indexOfReplica[replica] = replicas.count
    replicas.append(replica)
    slots.append([])
    return replicas.count - 1
  }

  func existingIndex(of replica: ReplicaID) -> Int? { indexOfReplica[replica] }

  /// How many characters of `replica` are here (its next clock).
  func known(_ replica: Int) -> Int { replica < slots.count ? slots[replica].count : 0 }

  /// Whether the character `id` is here.
  func has(_ id: UInt64) -> Bool {
    let r = Int(truncatingIfNeeded: id >> 32)
    return r < slots.count && Int(truncatingIfNeeded: id & 0xFFFF_FFFF) < slots[r].count
  }

  func scalar(_ id: UInt64) -> UInt32 {
    slots[Int(truncatingIfNeeded: id >> 32)][Int(truncatingIfNeeded: id & 0xFFFF_FFFF)].scalar
  }

  // MARK: Finding places

  /// The run holding the visible character `position` (0-based), and the offset in it.
  private mutating func findVisible(_ position: Int) -> (Place, Int)? {
    guard position >= 0, position < count else { return nil }
    while cursorRank > 0 && position < cursorPrefix {
      cursorRank -= 1
      cursorPrefix -= chunks[Int(order[cursorRank])].visible
    }
    while true {
      let visible = chunks[Int(order[cursorRank])].visible
      if position < cursorPrefix + visible || cursorRank == order.count - 1 { break }
      cursorPrefix += visible
      cursorRank += 1
    }
    let c = Int(order[cursorRank])
    let rest = position - cursorPrefix
    let visible = chunks[c].visible
    // A borrowed view: no copy of the chunk's array (and no reference counting) per lookup.
    // Scanned from the nearer end: each visible character is in exactly one run that is not
    // deleted, so both ways find the same run, and this way passes half as many on average.
    let found = chunks[c].spans.withUnsafeBufferPointer { spans -> (Int, Int)? in
      if rest < visible - rest || rest >= visible {
        var rest = rest
        for i in spans.indices where !spans[i].deleted {
          let length = Int(spans[i].length)
          if rest < length { return (i, rest) }
          rest -= length
        }
      } else {
        // Counted from the end: `back` visible characters come after it in the chunk.
        var back = visible - 1 - rest
        for i in spans.indices.reversed() where !spans[i].deleted {
          let length = Int(spans[i].length)
          if back < length { return (i, length - 1 - back) }
          back -= length
        }
      }
      return nil
    }
    return found.map { (Place(chunk: c, span: $0.0), $0.1) }
  }

  /// The run holding the character `id`, and the offset in it.
  func locate(_ id: UInt64) -> (Place, Int)? {
    guard has(id) else { return nil }
    let c = Int(slots[Int(truncatingIfNeeded: id >> 32)][Int(truncatingIfNeeded: id & 0xFFFF_FFFF)].chunk)
    guard c < chunks.count else { return nil }
    let spans = chunks[c].spans
    for i in spans.indices where spans[i].contains(id) { return (Place(chunk: c, span: i), Int(id - spans[i].id)) }
    return nil
  }

  /// The place after `place` in document order.
  func after(_ place: Place) -> Place? {
    if place.span + 1 < chunks[place.chunk].spans.count { return Place(chunk: place.chunk, span: place.span + 1) }
    var r = Int(rank[place.chunk]) + 1
    while r < order.count {
      let c = Int(order[r])
      if !chunks[c].spans.isEmpty { return Place(chunk: c, span: 0) }
      r += 1
    }
    return nil
  }

  /// The first place in document order (nil: no characters at all, not even deleted).
  var first: Place? {
    for c in order where !chunks[Int(c)].spans.isEmpty { return Place(chunk: Int(c), span: 0) }
    return nil
  }

  subscript(place: Place) -> TextSpan { chunks[place.chunk].spans[place.span] }

  // MARK: Changing runs

  /// Visible characters of `chunk` changed by `delta` (UTF-16 units by `utf16`).
  private mutating func addVisible(_ chunk: Int, _ delta: Int, _ utf16: Int) {
    chunks[chunk].visible += delta
    chunks[chunk].utf16 += utf16
    count += delta
    utf16Count += utf16
    if Int(rank[chunk]) < cursorRank { cursorPrefix += delta }
  }

  /// UTF-16 length of the characters of `span` (all of them, deleted or not).
  private func utf16Length(_ span: TextSpan) -> Int {
    var n = Int(span.length)
    let r = span.replica
    for k in span.clock..<(span.clock + Int(span.length)) where slots[r][k].scalar > 0xFFFF { n += 1 }
    return n
  }

  private mutating func insertSpan(_ span: TextSpan, at place: Place) {
    chunks[place.chunk].spans.insert(span, at: place.span)
    if chunks[place.chunk].spans.count == Self.chunkCapacity + 1 { oversized.append(place.chunk) }
  }

  /// Splits the run at `place` so that its character `offset` (0 < offset < length) starts a run.
  private mutating func split(_ place: Place, at offset: Int) {
    let s = self[place]
    let cut = s.id &+ UInt64(offset)
    insertSpan(
      TextSpan(
        id: cut, length: s.length - UInt32(offset), deleted: s.deleted, originLeft: cut &- 1,
        originRight: s.originRight),
      at: Place(chunk: place.chunk, span: place.span + 1))
    chunks[place.chunk].spans[place.span].length = UInt32(offset)
  }

  /// Makes `id` the first character of its run; returns false when `id` is unknown.
  @discardableResult
  private mutating func cut(before id: UInt64) -> Bool {
    guard let (place, offset) = locate(id) else { return false }
    if offset > 0 { split(place, at: offset) }
    return true
  }

  /// Makes `id` the last character of its run.
  @discardableResult
  private mutating func cut(after id: UInt64) -> Bool {
    guard let (place, offset) = locate(id) else { return false }
    if offset + 1 < Int(self[place].length) { split(place, at: offset + 1) }
    return true
  }

  /// Marks the run at `place` deleted, then merges it into deleted neighbours it continues, so
  /// backspacing leaves one tombstone run rather than one per character.
  private mutating func markDeleted(_ place: Place) {
    let s = self[place]
    guard !s.deleted else { return }
    addVisible(place.chunk, -Int(s.length), -utf16Length(s))
    chunks[place.chunk].spans[place.span].deleted = true
    let i = place.span
    if i + 1 < chunks[place.chunk].spans.count,
      chunks[place.chunk].spans[i].isContinued(by: chunks[place.chunk].spans[i + 1])
    {
      chunks[place.chunk].spans[i].length += chunks[place.chunk].spans[i + 1].length
      chunks[place.chunk].spans.remove(at: i + 1)
    }
    if i > 0, chunks[place.chunk].spans[i - 1].isContinued(by: chunks[place.chunk].spans[i]) {
      chunks[place.chunk].spans[i - 1].length += chunks[place.chunk].spans[i].length
      chunks[place.chunk].spans.remove(at: i)
    }
  }

  /// Splits chunks that grew past `chunkCapacity` into chunks of half of it.
  private mutating func rebalance() {
    while let c = oversized.popLast() {
      guard chunks[c].spans.count > Self.chunkCapacity else { continue }
      let all = chunks[c].spans
      let piece = Self.chunkCapacity / 2
      var newChunks: [Int32] = []
      var start = piece
      var movedVisible = 0
      var movedUTF16 = 0
      while start < all.count {
        let part = Array(all[start..<min(start + piece, all.count)])
        let id = chunks.count
        var visible = 0
        var utf16 = 0
        for s in part {
          if !s.deleted {
            visible += Int(s.length)
            utf16 += utf16Length(s)
          }
          for k in s.clock..<(s.clock + Int(s.length)) { slots[s.replica][k].chunk = UInt32(id) }
        }
        chunks.append(Chunk(spans: part, visible: visible, utf16: utf16))
        rank.append(0)
        newChunks.append(Int32(id))
        movedVisible += visible
        movedUTF16 += utf16
        start += piece
      }
      chunks[c].spans.removeSubrange(piece...)
      chunks[c].visible -= movedVisible
      chunks[c].utf16 -= movedUTF16
      let at = Int(rank[c]) + 1
      order.insert(contentsOf: newChunks, at: at)
      for r in at..<order.count { rank[Int(order[r])] = Int32(r) }
      if cursorRank >= at { cursorRank += newChunks.count }
    }
    oversized.removeAll(keepingCapacity: true)
  }

  /// Records the characters of a new run.
  private mutating func addSlots(
    _ replica: Int, _ scalars: some Sequence<Unicode.Scalar>, chunk: Int, count n: Int, known: Bool
  ) {
    if known {
      for s in scalars { slots[replica].append(Slot(scalar: s.value, chunk: UInt32(chunk))) }
    } else {
      slots[replica].append(contentsOf: repeatElement(Slot(scalar: 0, chunk: UInt32(chunk)), count: n))
    }
    characters += n
  }

  // MARK: Local edits

  /// Inserts `text` (`n` scalars, `utf16` units) typed by `replica` at visible position
  /// `position` (0...count), and returns the run as it is to be sent. The caller checks the
  /// limits.
  mutating func insert(
    _ text: String.UnicodeScalarView, scalars n: Int, utf16: Int, by replica: Int, at position: Int
  ) -> TextSpan {
    let id = textID(replica, slots[replica].count)
    var place: Place
    var left = TextSpan.none
    var right = TextSpan.none
    if position <= 0 || count == 0 {
      place = first ?? Place(chunk: Int(order[0]), span: 0)
      if place.span < chunks[place.chunk].spans.count { right = self[place].id }
    } else if let (at, offset) = findVisible(min(position, count) - 1) {
      let s = self[at]
      left = s.id &+ UInt64(offset)
      place = Place(chunk: at.chunk, span: at.span + 1)
      if offset + 1 < Int(s.length) {
        right = left &+ 1
        split(at, at: offset + 1)
      } else {
        if let next = after(at) { right = self[next].id }
        // Typing on at the end of one's own run extends it: no new run.
        if s.end == id && s.originRight == right && !s.deleted {
          chunks[at.chunk].spans[at.span].length += UInt32(n)
          addSlots(replica, text, chunk: at.chunk, count: n, known: true)
          addVisible(at.chunk, n, utf16)
          return TextSpan(id: id, length: UInt32(n), deleted: false, originLeft: left, originRight: right)
        }
      }
    } else {
      place = Place(chunk: Int(order[0]), span: 0)
    }
    let span = TextSpan(id: id, length: UInt32(n), deleted: false, originLeft: left, originRight: right)
    insertSpan(span, at: place)
    addSlots(replica, text, chunk: place.chunk, count: n, known: true)
    addVisible(place.chunk, n, utf16)
    rebalance()
    return span
  }

  /// Deletes up to `length` visible characters from `position` and adds the ids deleted to
  /// `deleted`, merging ranges that touch.
  mutating func delete(at position: Int, length: Int, into deleted: inout [(id: UInt64, length: Int)]) {
    var rest = min(length, count - position)
    while rest > 0, let (found, offset) = findVisible(position) {
      var place = found
      if offset > 0 {
        split(place, at: offset)
        place.span += 1
      }
      if rest < Int(self[place].length) { split(place, at: rest) }
      let s = self[place]
      markDeleted(place)
      appendDeletion(s.id, Int(s.length), to: &deleted)
      rest -= Int(s.length)
    }
    rebalance()
  }

  // MARK: Remote changes

  /// Integrates a run from another replica whose origins are here and whose first clock is the
  /// next of its replica. YATA (the rule Yjs uses): among the runs inserted concurrently between
  /// the same origins, the order is decided by their origins and then by replica id, the same on
  /// every replica, and concurrent runs do not interleave.
  mutating func integrate(_ new: TextSpan, scalars: some Collection<Unicode.Scalar>) {
    if new.originLeft != TextSpan.none { cut(after: new.originLeft) }
    if new.originRight != TextSpan.none { cut(before: new.originRight) }
    var left: Place?
    var o: Place?
    if new.originLeft != TextSpan.none, let (place, _) = locate(new.originLeft) {
      left = place
      o = after(place)
    } else {
      o = first
    }
    scanned.removeAll(keepingCapacity: true)
    var clearedAt = 0
    let newReplica = replicas[new.replica]
    while let place = o {
      let other = self[place]
      if other.id == new.originRight { break }
      scanned.append((other.id, other.end))
      if other.originLeft == new.originLeft {
        if replicas[other.replica] < newReplica {
          left = place
          clearedAt = scanned.count
        } else if other.originRight == new.originRight {
          break
        }
      } else if other.originLeft != TextSpan.none,
        let j = scanned.lastIndex(where: { other.originLeft >= $0.0 && other.originLeft < $0.1 })
      {
        // Its left origin was passed: it belongs to a run inserted among the conflicting ones.
        if j < clearedAt {
          left = place
          clearedAt = scanned.count
        }
      } else {
        break
      }
      o = after(place)
    }
    let at = left.map { Place(chunk: $0.chunk, span: $0.span + 1) } ?? Place(chunk: Int(order[0]), span: 0)
    insertSpan(new, at: at)
    let n = Int(new.length)
    addSlots(new.replica, scalars, chunk: at.chunk, count: n, known: !new.deleted)
    if !new.deleted {
      var utf16 = n
      for s in scalars where s.value > 0xFFFF { utf16 += 1 }
      addVisible(at.chunk, n, utf16)
    }
    rebalance()
  }

  /// Deletes the characters `id ..< id + length`, all of which are here.
  mutating func delete(from id: UInt64, length: Int) {
    var id = id
    var rest = length
    while rest > 0, let (found, offset) = locate(id) {
      var place = found
      let s = self[place]
      let take = min(Int(s.length) - offset, rest)
      if !s.deleted {
        if offset > 0 {
          split(place, at: offset)
          place.span += 1
        }
        if take < Int(self[place].length) { split(place, at: take) }
        markDeleted(place)
      }
      id &+= UInt64(take)
      rest -= take
    }
    rebalance()
  }

  // MARK: Loading

  /// Appends a run at the end of the document while loading a snapshot; false (and the
  /// sequence unusable) when one of its characters was placed before. Slots must have been sized
  /// with `reserve` first.
  mutating func load(_ span: TextSpan, scalars: some Collection<Unicode.Scalar>) -> Bool {
    for k in span.clock..<(span.clock + Int(span.length)) where slots[span.replica][k].chunk != UInt32.max {
      return false
    }
    var c = Int(order[order.count - 1])
    if chunks[c].spans.count >= Self.chunkCapacity * 3 / 4 {
      c = chunks.count
      chunks.append(Chunk(spans: [], visible: 0, utf16: 0))
      rank.append(Int32(order.count))
      order.append(Int32(c))
    }
    chunks[c].spans.append(span)
    var utf16 = 0
    var k = span.clock
    for s in scalars {
      slots[span.replica][k].scalar = s.value
      utf16 += s.value > 0xFFFF ? 2 : 1
      k += 1
    }
    for k in span.clock..<(span.clock + Int(span.length)) { slots[span.replica][k].chunk = UInt32(c) }
    if !span.deleted { addVisible(c, Int(span.length), utf16) }
    return true
  }

  /// Sizes the slots of `replica` for `count` characters, each marked as not yet placed.
  mutating func reserve(_ replica: Int, count n: Int) {
    slots[replica] = Array(repeating: Slot(scalar: 0, chunk: UInt32.max), count: n)
    characters += n
  }

  // MARK: Reading

  /// The runs in document order.
  func forEachSpan(_ body: (TextSpan) -> Void) {
    for c in order { for s in chunks[Int(c)].spans { body(s) } }
  }

  /// The visible text as UTF-8.
  func utf8() -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(count + count / 4)
    forEachSpan { s in
      guard !s.deleted else { return }
      for k in s.clock..<(s.clock + Int(s.length)) {
        appendUTF8(slots[s.replica][k].scalar, to: &out)
      }
    }
    return out
  }

  /// The scalar position of UTF-16 offset `utf16`, clamped to the text. An offset inside a
  /// surrogate pair counts as the scalar's start, or its end when `roundingUp`.
  func scalarPosition(utf16 offset: Int, roundingUp: Bool = false) -> Int {
    guard offset > 0 else { return 0 }
    guard offset < utf16Count else { return count }
    var units = 0
    var scalars = 0
    for c in order {
      let chunk = chunks[Int(c)]
      if units + chunk.utf16 <= offset {
        units += chunk.utf16
        scalars += chunk.visible
        continue
      }
      for s in chunk.spans where !s.deleted {
        for k in s.clock..<(s.clock + Int(s.length)) {
          let width = slots[s.replica][k].scalar > 0xFFFF ? 2 : 1
          if units + width > offset { return roundingUp && units < offset ? scalars + 1 : scalars }
          units += width
          scalars += 1
        }
      }
    }
    return scalars
  }
}

/// Emits the UTF-8 form of the scalar value `v` (a valid scalar), byte by byte: the one encoder
/// behind every sink the text code writes to.
@inline(__always) func encodeUTF8(_ v: UInt32, _ emit: (UInt8) -> Void) {
  switch v {
  case 0..<0x80:
    emit(UInt8(v))
  case 0x80..<0x800:
    emit(UInt8(0xC0 | v >> 6))
    emit(UInt8(0x80 | v & 0x3F))
  case 0x800..<0x10000:
    emit(UInt8(0xE0 | v >> 12))
    emit(UInt8(0x80 | v >> 6 & 0x3F))
    emit(UInt8(0x80 | v & 0x3F))
  default:
    emit(UInt8(truncatingIfNeeded: 0xF0 | v >> 18))
    emit(UInt8(0x80 | v >> 12 & 0x3F))
    emit(UInt8(0x80 | v >> 6 & 0x3F))
    emit(UInt8(0x80 | v & 0x3F))
  }
}

/// Appends the UTF-8 form of the scalar value `v` (a valid scalar).
@inline(__always) func appendUTF8(_ v: UInt32, to out: inout [UInt8]) { encodeUTF8(v) { out.append($0) } }

extension TextSequence {
  /// What is wrong with the internal bookkeeping, if anything (for tests).
  func inconsistency() -> String? {
    var prefix = 0
    var total = 0
    for (r, c) in order.enumerated() {
      let chunk = chunks[Int(c)]
      guard rank[Int(c)] == r else { return "rank of chunk \(c)" }
      if r == cursorRank, prefix != cursorPrefix { return "cursor prefix \(cursorPrefix) != \(prefix)" }
      var visible = 0
      for s in chunk.spans {
        if !s.deleted { visible += Int(s.length) }
        for k in s.clock..<(s.clock + Int(s.length)) where slots[s.replica][k].chunk != c {
          return "slot \(s.replica):\(k) not in chunk \(c)"
        }
      }
      guard visible == chunk.visible else { return "chunk \(c) visible \(chunk.visible) != \(visible)" }
      prefix += visible
      total += visible
    }
    return total == count ? nil : "count \(count) != \(total)"
  }
}

/// Adds the deleted ids `id ..< id + n` to `ranges`, extending the last range when they touch it
/// (typing Delete forwards, or Backspace).
func appendDeletion(_ id: UInt64, _ n: Int, to ranges: inout [(id: UInt64, length: Int)]) {
  if let last = ranges.last {
    if last.id &+ UInt64(last.length) == id {
      ranges[ranges.count - 1].length += n
      return
    }
    if id &+ UInt64(n) == last.id {
      ranges[ranges.count - 1] = (id, last.length + n)
      return
    }
  }
  ranges.append((id, n))
}
