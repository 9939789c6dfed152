/// The state and the algorithms of one replica of a text document (`TextDocument` is its public
/// face): a value, so that an edit is one exclusive access, not one per field it touches.
struct TextReplica {
  /// This replica. A replica id must not be reused by a replica that lost its state: its new
  /// edits would collide with the old ones.
  private(set) var replica: ReplicaID
  var sequence = TextSequence()
  private var local: Int
  /// Local runs and deletions not yet committed, in the sequence's ids.
  private var changes: [TextSpan] = []
  private var deletions: [(id: UInt64, length: Int)] = []
  /// Remote runs and deletions waiting for what they depend on.
  var pending = TextUpdate()
  /// Scratch space of `commit`: the update's replica table, and its bytes.
  private var table: [Int] = []
  private var tableCount = 0
  private var scratch: [UInt8] = []

  static let maxPendingCharacters = 1 << 22

  /// An empty document edited by `replica`.
  init(replica: ReplicaID, sequence: TextSequence) {
    self.replica = replica
    self.sequence = sequence
    local = self.sequence.index(of: replica)
  }

  /// The text.
  var text: String { String(decoding: sequence.utf8(), as: UTF8.self) }
  /// Length in Unicode scalars.
  var count: Int { sequence.count }
  /// Length in UTF-16 code units.
  var utf16Count: Int { sequence.utf16Count }
  /// Remote runs and deletions waiting for what they depend on.
  var waiting: Int { pending.runs.count + pending.deletions.count }
  /// Whether there are local edits not yet committed.
  var hasChanges: Bool { !changes.isEmpty || !deletions.isEmpty }

  /// Edits from now on as `replica`; edits not yet committed stay in the transaction. A task's
  /// text fields are edited by whichever replica of the list holds them.
  mutating func rebind(to replica: ReplicaID) {
    guard replica != self.replica else { return }
    self.replica = replica
    local = sequence.index(of: replica)
  }

  /// One past the highest clock of `replica` this state names: its characters here, and those
  /// of its runs and deletions waiting.
  func extent(of replica: ReplicaID) -> Int {
    var n = sequence.existingIndex(of: replica).map { sequence.known($0) } ?? 0
    for run in pending.runs where run.replica == replica { n = max(n, run.clock + run.length) }
    for d in pending.deletions where d.replica == replica { n = max(n, d.clock + d.length) }
    return n
  }

  // MARK: Local edits

  /// Inserts `text` at `position`, counted in Unicode scalars (clamped to the text). Throws
  /// `.tooLarge` past the document's limits, changing nothing.
  mutating func insert(_ text: String, at position: Int) throws(RealtimeError) {
    var n = 0
    var utf16 = 0
    for s in text.unicodeScalars {
      n += 1
      utf16 += s.value > 0xFFFF ? 2 : 1
    }
    guard n > 0 else { return }
    guard sequence.known(local) + n <= TextSequence.maxClock,
      sequence.characters + n <= TextSequence.maxCharacters
    else {
      throw RealtimeError(.tooLarge, "a text document holds at most \(TextSequence.maxCharacters) characters")
    }
    let run = sequence.insert(text.unicodeScalars, scalars: n, utf16: utf16, by: local, at: max(0, position))
    if let last = changes.last, last.isContinued(by: run) {
      changes[changes.count - 1].length += run.length
    } else {
      changes.append(run)
    }
  }

  /// Inserts `text` at `offset`, counted in UTF-16 code units.
  mutating func insert(_ text: String, atUTF16 offset: Int) throws(RealtimeError) {
    try insert(text, at: sequence.scalarPosition(utf16: offset))
  }

  /// Deletes `length` Unicode scalars from `position` (clamped to the text).
  mutating func delete(at position: Int, length: Int) {
    guard position >= 0, position < count, length > 0 else { return }
    sequence.delete(at: position, length: length, into: &deletions)
  }

  /// Deletes `length` UTF-16 code units from `offset`; a surrogate pair cut in two is deleted
  /// whole.
  mutating func delete(atUTF16 offset: Int, length: Int) {
    let from = sequence.scalarPosition(utf16: offset)
    // Saturating: the host may pass any length, up to "everything".
    let (end, overflow) = offset.addingReportingOverflow(max(0, length))
    let to = sequence.scalarPosition(utf16: overflow ? Int.max : end, roundingUp: true)
    delete(at: from, length: to - from)
  }

  // MARK: Transactions

  /// Appends the update of the local edits since the last commit to `out` and starts a new
  /// transaction; false (and nothing appended) when there were none.
  mutating func commit(into out: inout [UInt8]) -> Bool {
    guard hasChanges else { return false }
    // Moved out while `encode` mutates `self`, rather than passed as copies it would retain.
    var runs: [TextSpan] = []
    var deleted: [(id: UInt64, length: Int)] = []
    swap(&runs, &changes)
    swap(&deleted, &deletions)
    encode(runs: runs, deletions: deleted, into: &out)
    if !runs.isEmpty { runs.removeAll(keepingCapacity: true) }
    if !deleted.isEmpty { deleted.removeAll(keepingCapacity: true) }
    swap(&runs, &changes)
    swap(&deleted, &deletions)
    return true
  }

  /// The update of the local edits since the last commit, or nil when there were none.
  mutating func commit() -> [UInt8]? {
    var out: [UInt8] = []
    return commit(into: &out) ? out : nil
  }

  /// Writes an update: `runs` with their content unless deleted, then `deletions`. Runs on
  /// every commit: it reserves an upper bound of the size once and writes through a pointer.
  private mutating func encode(runs: [TextSpan], deletions: [(id: UInt64, length: Int)], into out: inout [UInt8]) {
    tableCount = 0
    var characters = 0
    for run in runs {
      addToTable(run.replica)
      if run.originLeft != TextSpan.none { addToTable(Int(run.originLeft >> 32)) }
      if run.originRight != TextSpan.none { addToTable(Int(run.originRight >> 32)) }
      if !run.deleted { characters += Int(run.length) }
    }
    for d in deletions { addToTable(Int(d.id >> 32)) }
    // Varints of up to 64 bits take 10 bytes; a scalar's UTF-8 takes up to 4.
    let bound = 21 + 8 * tableCount + 71 * runs.count + 4 * characters + 30 * deletions.count
    var staging: [UInt8] = []
    swap(&staging, &scratch)
    defer { swap(&staging, &scratch) }
    out.appendBounded(bound, scratch: &staging) { w in
      w.byte(TextUpdate.format)
      w.varint(UInt64(tableCount))
      for i in 0..<tableCount { w.fixed64(sequence.replicas[table[i]].raw) }
      w.varint(UInt64(runs.count))
      for run in runs {
        w.varint(UInt64(tableSlot(run.replica)))
        w.varint(UInt64(run.clock))
        w.varint(UInt64(run.length))
        var flags: UInt8 = run.deleted ? TextUpdate.Flag.noContent : 0
        let previous = run.clock > 0 && run.originLeft == run.id &- 1
        if previous {
          flags |= TextUpdate.Flag.originLeftIsPrevious
        } else if run.originLeft != TextSpan.none {
          flags |= TextUpdate.Flag.originLeft
        }
        if run.originRight != TextSpan.none { flags |= TextUpdate.Flag.originRight }
        w.byte(flags)
        if flags & TextUpdate.Flag.originLeft != 0 { writeID(run.originLeft, &w) }
        if flags & TextUpdate.Flag.originRight != 0 { writeID(run.originRight, &w) }
        if !run.deleted {
          sequence.slots[run.replica].withUnsafeBufferPointer { slots in
            let range = run.clock..<(run.clock + Int(run.length))
            var bytes = 0
            for k in range { bytes += utf8Width(slots[k].scalar) }
            w.varint(UInt64(bytes))
            for k in range { writeUTF8(slots[k].scalar, &w) }
          }
        }
      }
      w.varint(UInt64(deletions.count))
      for d in deletions {
        w.varint(UInt64(tableSlot(Int(d.id >> 32))))
        w.varint(d.id & 0xFFFF_FFFF)
        w.varint(UInt64(d.length))
      }
    }
  }

  /// Adds replica `r` to the update's table (reused between commits, hence the count).
  private mutating func addToTable(_ r: Int) {
    for i in 0..<tableCount where table[i] == r { return }
    if tableCount < table.count { table[tableCount] = r } else { table.append(r) }
    tableCount += 1
  }

  private func tableSlot(_ r: Int) -> Int {
    for i in 0..<tableCount where table[i] == r { return i }
    return 0
  }

  private func writeID(_ id: UInt64, _ w: inout RawByteWriter) {
    w.varint(UInt64(tableSlot(Int(id >> 32))))
    w.varint(id & 0xFFFF_FFFF)
  }

  // MARK: Sync

  /// What this replica has: per replica, how many of its characters are here.
  var stateVector: VersionVector {
    var v = VersionVector()
    for (r, id) in sequence.replicas.enumerated() where sequence.known(r) > 0 {
      v.observe(Dot(id, UInt64(sequence.known(r))))
    }
    return v
  }

  /// An update holding everything here that a replica with state vector `seen` lacks: the runs
  /// it has not seen (deleted ones without their content) and the deletions of characters it has.
  mutating func diff(since seen: VersionVector) -> [UInt8] {
    var runs: [TextSpan] = []
    var deleted: [(id: UInt64, length: Int)] = []
    var knownByPeer = sequence.replicas.map { Int(min(seen[$0], UInt64(TextSequence.maxClock))) }
    knownByPeer.append(0)
    sequence.forEachSpan { s in
      let k = knownByPeer[s.replica]
      let end = s.clock + Int(s.length)
      if end > k {
        var piece = s
        if s.clock < k {
          piece.id = textID(s.replica, k)
          piece.length = UInt32(end - k)
          piece.originLeft = piece.id &- 1
        }
        runs.append(piece)
      }
      if s.deleted && s.clock < k { deleted.append((s.id, min(end, k) - s.clock)) }
    }
    runs.sort { $0.id < $1.id }
    var merged: [TextSpan] = []
    merged.reserveCapacity(runs.count)
    for run in runs {
      if let last = merged.last, last.isContinued(by: run) {
        merged[merged.count - 1].length += run.length
      } else {
        merged.append(run)
      }
    }
    deleted.sort { $0.id < $1.id }
    var ranges: [(id: UInt64, length: Int)] = []
    for d in deleted {
      if let last = ranges.last, last.id &+ UInt64(last.length) == d.id {
        ranges[ranges.count - 1].length += d.length
      } else {
        ranges.append(d)
      }
    }
    var out: [UInt8] = []
    encode(runs: merged, deletions: ranges, into: &out)
    return out
  }

  /// Applies an update from another replica: in any order, duplicates included; what depends on
  /// something not yet here waits for it. Throws, changing nothing, for an update that does not
  /// decode, would pass the document's limits, or claims edits of this replica it never made.
  mutating func apply(_ update: [UInt8]) throws(RealtimeError) {
    let incoming = try TextUpdate(decoding: update)
    let known = sequence.known(local)
    for run in incoming.runs where run.replica == replica && run.clock + run.length > known {
      throw RealtimeError(.corrupt, "the update holds edits of this replica (\(replica)) it never made")
    }
    let adding = incoming.characters
    guard sequence.characters + pending.characters + adding <= TextSequence.maxCharacters + adding / 2,
      pending.characters + adding <= Self.maxPendingCharacters + adding / 2
    else {
      throw RealtimeError(.tooLarge, "the update would take the document past its limits")
    }
    hold(incoming)
    drain()
  }

  /// Adds a decoded update's runs and deletions and integrates whatever can be, with neither the
  /// check of this replica's own edits nor the limits of `apply`: the caller checks both.
  mutating func absorb(_ incoming: TextUpdate) {
    hold(incoming)
    drain()
  }

  /// Adds an update's runs and deletions to those waiting. A run sent without content is
  /// deleted: that becomes a deletion too, which still applies when the same characters arrive
  /// with their content from elsewhere first.
  private mutating func hold(_ update: TextUpdate) {
    let base = pending.scalars.count
    pending.scalars += update.scalars
    for var run in update.runs {
      if let c = run.content {
        run.content = (c.lowerBound + base)..<(c.upperBound + base)
      } else {
        pending.deletions.append(TextUpdate.Deletion(replica: run.replica, clock: run.clock, length: run.length))
      }
      pending.runs.append(run)
    }
    pending.deletions += update.deletions
  }

  /// The sequence's id of a character, if it is here.
  private func resolve(_ id: TextUpdate.ID?) -> UInt64? {
    guard let id else { return TextSpan.none }
    guard let r = sequence.existingIndex(of: id.replica), id.clock < sequence.known(r) else { return nil }
    return textID(r, id.clock)
  }

  /// Integrates every waiting run whose dependencies are here, then every waiting deletion of
  /// characters that are here. Runs go per replica in clock order; a run blocked on another
  /// replica's character waits until a later round has brought it.
  mutating func drain() {
    if !pending.runs.isEmpty {
      var runs = pending.runs
      // Runs with content first among runs of the same characters, so the one kept of
      // duplicates below does not depend on the order they came in.
      runs.sort {
        ($0.replica, $0.clock, $0.length, $0.content == nil ? 1 : 0)
          < ($1.replica, $1.clock, $1.length, $1.content == nil ? 1 : 0)
      }
      var groups: [Range<Int>] = []
      var start = 0
      for i in 1...runs.count where i == runs.count || runs[i].replica != runs[start].replica {
        groups.append(start..<i)
        start = i
      }
      var heads = groups.map(\.lowerBound)
      var progress = true
      while progress {
        progress = false
        for g in groups.indices {
          while heads[g] < groups[g].upperBound {
            let run = runs[heads[g]]
            let r = sequence.index(of: run.replica)
            let known = sequence.known(r)
            if run.clock + run.length <= known {  // a duplicate
              heads[g] += 1
              continue
            }
            guard run.clock <= known, let left = resolve(run.originLeft), let right = resolve(run.originRight)
            else { break }
            let skip = known - run.clock
            let id = textID(r, known)
            let span = TextSpan(
              id: id, length: UInt32(run.length - skip), deleted: run.content == nil,
              originLeft: skip > 0 ? id &- 1 : left, originRight: right)
            if let content = run.content {
              sequence.integrate(span, scalars: pending.scalars[(content.lowerBound + skip)..<content.upperBound])
            } else {
              sequence.integrate(span, scalars: EmptyCollection())
            }
            heads[g] += 1
            progress = true
          }
        }
      }
      var left = TextUpdate()
      for g in groups.indices {
        var last: (clock: Int, length: Int)?
        for run in runs[heads[g]..<groups[g].upperBound] {
          // The same characters twice (an update applied twice while it waits) wait once.
          if let last, last == (run.clock, run.length) { continue }
          last = (run.clock, run.length)
          var kept = run
          if let content = run.content {
            kept.content = left.scalars.count..<(left.scalars.count + content.count)
            left.scalars += pending.scalars[content]
          }
          left.runs.append(kept)
        }
      }
      left.deletions = pending.deletions
      pending = left
    }
    if !pending.deletions.isEmpty {
      var waiting: [TextUpdate.Deletion] = []
      for d in pending.deletions {
        guard let r = sequence.existingIndex(of: d.replica) else {
          waiting.append(d)
          continue
        }
        let known = sequence.known(r)
        if d.clock < known { sequence.delete(from: textID(r, d.clock), length: min(d.length, known - d.clock)) }
        if d.clock + d.length > known {
          let from = max(d.clock, known)
          waiting.append(TextUpdate.Deletion(replica: d.replica, clock: from, length: d.clock + d.length - from))
        }
      }
      // In one order, each once: what waits is the same whatever order it came in.
      waiting.sort { ($0.replica, $0.clock, $0.length) < ($1.replica, $1.clock, $1.length) }
      var unique: [TextUpdate.Deletion] = []
      for d in waiting
      where unique.last.map({ ($0.replica, $0.clock, $0.length) != (d.replica, d.clock, d.length) }) ?? true {
        unique.append(d)
      }
      pending.deletions = unique
    }
  }
}

/// Bytes of the UTF-8 form of the scalar value `v`.
@inline(__always) func utf8Width(_ v: UInt32) -> Int { v < 0x80 ? 1 : v < 0x800 ? 2 : v < 0x10000 ? 3 : 4 }

/// Writes the UTF-8 form of the scalar value `v` (a valid scalar).
@inline(__always) func writeUTF8(_ v: UInt32, _ w: inout RawByteWriter) { encodeUTF8(v) { w.byte($0) } }
