/// A text field of a task (its title or description): the text documents' sequence CRDT
/// (`TextReplica`, YATA ordering as in Yjs), so concurrent edits of one description on two
/// offline devices both survive, merged character by character like a text document.
///
/// A character is named by the replica that typed it and a clock counting that replica's
/// characters in this field (its `known` count here when typed). Each field is its own id space;
/// a replica always holds every character it typed in a field (local edits apply at once and are
/// never dropped), so its next clock is new, and two replicas have different ids: no two
/// characters share an id as long as a replica id is never reused by a replica that lost its
/// state (the rule every document keeps). Text edits take no dot of the record's version
/// vector: a text carries its own ids.
///
/// On the wire (`docs/protocol.md`, "Task records") a field is empty when it holds nothing, a
/// text snapshot in a whole state, and in a task-list commit a text update of the edits since
/// the previous commit (or the snapshot, when that is smaller).
public struct TaskText: Sendable {
  /// The field's replica; nil while nothing was typed or received. Decoded from a commit, it
  /// holds the update's runs as waiting, not integrated: merging integrates them.
  var state: TextReplica?
  /// Set for the fields of tasks a reload found in the open transaction: their uncommitted
  /// edits are no longer told apart, so the next commit sends the whole field.
  var sendWhole = false

  /// Characters per field, deleted ones and waiting ones included.
  public static let maxCharacters = 1 << 20
  /// Stands in for the editing replica until a local edit rebinds the field: it only decides
  /// which replica's next clock an insertion takes.
  static let unbound = ReplicaID(0)

  public init() {}

  init(state: TextReplica) { self.state = state }

  /// The text.
  public var text: String { state?.text ?? "" }
  /// Length in Unicode scalars.
  public var count: Int { state?.count ?? 0 }
  /// Length in UTF-16 code units.
  public var utf16Count: Int { state?.utf16Count ?? 0 }
  /// Characters held, deleted and waiting ones included (what the limits count).
  var characters: Int { state.map { $0.sequence.characters + $0.pending.characters } ?? 0 }
  /// Whether the field holds nothing at all (no characters, deleted or waiting).
  var isEmpty: Bool { characters == 0 && (state?.pending.isEmpty ?? true) }

  /// How many characters `replica` typed that are here.
  func known(of replica: ReplicaID) -> Int {
    guard let state, let r = state.sequence.existingIndex(of: replica) else { return 0 }
    return state.sequence.known(r)
  }

  /// One past the highest clock of `replica` this field names, here or waiting.
  func extent(of replica: ReplicaID) -> Int { state?.extent(of: replica) ?? 0 }

  // MARK: Local edits

  /// The field's replica, bound to `replica` for an edit.
  private mutating func editable(by replica: ReplicaID) -> TextReplica {
    var s = state ?? TextReplica(replica: replica, sequence: TextSequence())
    state = nil  // unique here, so the edit copies the sequence only if another copy holds it
    s.rebind(to: replica)
    return s
  }

  /// Throws `.tooLarge` when `n` more characters would pass the field's limit.
  private func checkRoom(_ n: Int) throws(RealtimeError) {
    guard characters + n <= Self.maxCharacters else {
      throw RealtimeError(
        .tooLarge, "a task's title or description holds at most \(Self.maxCharacters) characters, deleted ones included"
      )
    }
  }

  /// Inserts `text` at `position` (Unicode scalars, or UTF-16 code units with `utf16`; clamped)
  /// as `replica`. Throws `.tooLarge` past the field's limit, changing nothing.
  mutating func insert(_ text: String, at position: Int, utf16: Bool, by replica: ReplicaID) throws(RealtimeError) {
    let n = text.unicodeScalars.count
    guard n > 0 else { return }
    try checkRoom(n)
    var s = editable(by: replica)
    defer { state = s }
    if utf16 {
      try s.insert(text, atUTF16: position)
    } else {
      try s.insert(text, at: position)
    }
  }

  /// Deletes `length` characters from `position` (units as in `insert`; clamped); with
  /// `utf16`, a surrogate pair cut in two is deleted whole.
  mutating func delete(at position: Int, length: Int, utf16: Bool, by replica: ReplicaID) {
    guard state != nil, length > 0 else { return }
    var s = editable(by: replica)
    if utf16 {
      s.delete(atUTF16: position, length: length)
    } else {
      s.delete(at: position, length: length)
    }
    state = s
  }

  /// Whether deleting `length` characters from `position` would delete any.
  func deletes(at position: Int, length: Int, utf16: Bool) -> Bool {
    length > 0 && position >= 0 && position < (utf16 ? utf16Count : count)
  }

  /// Makes the text `new` as `replica`: deletes what differs between the common prefix and
  /// suffix of the old and new text and inserts the new middle, so setting the text it already
  /// has changes nothing, and concurrent edits outside the changed part survive. (Two replicas
  /// that set different texts concurrently both keep their insertions: the merge holds both.)
  mutating func replace(with new: String, by replica: ReplicaID) throws(RealtimeError) {
    let old = Array(text.unicodeScalars)
    let next = Array(new.unicodeScalars)
    var prefix = 0
    while prefix < old.count, prefix < next.count, old[prefix] == next[prefix] { prefix += 1 }
    var suffix = 0
    while suffix < old.count - prefix, suffix < next.count - prefix,
      old[old.count - 1 - suffix] == next[next.count - 1 - suffix]
    {
      suffix += 1
    }
    let middle = next[prefix..<(next.count - suffix)]
    try checkRoom(middle.count)
    delete(at: prefix, length: old.count - prefix - suffix, utf16: false, by: replica)
    var inserted = String.UnicodeScalarView()
    inserted.append(contentsOf: middle)
    try insert(String(inserted), at: prefix, utf16: false, by: replica)
  }

  // MARK: Merging and encoding

  /// Merges another state of this field (a whole state, or a commit's update): idempotent,
  /// commutative and associative. Its characters are integrated here by YATA's rule, whatever
  /// order its own sequence has, so a forged order cannot make replicas differ. Throws
  /// `.tooLarge`, changing nothing, past the field's limit.
  mutating func merge(_ other: TaskText) throws(RealtimeError) {
    guard var theirs = other.state else { return }
    var mine = state ?? TextReplica(replica: theirs.replica, sequence: TextSequence())
    if theirs.sequence.characters > 0 {
      // Our own encoding of their characters we lack: it always decodes.
      guard let update = try? TextUpdate(decoding: theirs.diff(since: mine.stateVector)) else {
        throw RealtimeError(.internal, "a text diff that does not decode")
      }
      mine.absorb(update)
    }
    if !theirs.pending.isEmpty { mine.absorb(theirs.pending) }
    guard mine.sequence.characters + mine.pending.characters <= Self.maxCharacters else {
      throw RealtimeError(
        .tooLarge, "a task's title or description holds at most \(Self.maxCharacters) characters, deleted ones included"
      )
    }
    state = mine
  }

  /// The whole state as a text snapshot (`docs/protocol.md`, "Text snapshots"), canonical;
  /// empty when the field holds nothing.
  func encoded() -> [UInt8] {
    guard let state, !isEmpty else { return [] }
    return state.snapshot()
  }

  /// Ends the field's transaction: what a commit sends of it. The edits since the last commit
  /// as a text update, or the whole state when that is not larger (so a commit's record is never
  /// larger than the record's state) or after a reload; empty when nothing changed.
  mutating func commit() -> [UInt8] {
    guard var s = state else { return [] }
    let whole = sendWhole
    sendWhole = false
    let delta = s.commit()
    state = s
    if whole { return encoded() }
    guard let delta else { return [] }
    let snapshot = encoded()
    return snapshot.count < delta.count ? snapshot : delta
  }
}

extension TaskText: Equatable {
  /// Equal states: equal canonical encodings (the open transaction is not part of it).
  public static func == (a: TaskText, b: TaskText) -> Bool { a.encoded() == b.encoded() }
}
