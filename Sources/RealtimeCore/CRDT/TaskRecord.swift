/// The clock and identity a replica edits with: its id, the next event's counter (kept in each
/// document's version vector) and a hybrid logical clock for last-writer-wins.
public struct ReplicaClock: Sendable {
  public let replica: ReplicaID
  public var hlc = HybridClock()
  public init(_ replica: ReplicaID) { self.replica = replica }
}

/// A task, merged field by field across replicas edited offline:
/// - title and description: text (`TaskText`, the text documents' sequence CRDT), merged
///   character by character, so concurrent edits of one description both survive;
/// - status, priority, category and due date: multi-value registers (the last writer's value is
///   the value; concurrent writes stay visible as a conflict until set again);
/// - assignees and tags: add-wins sets;
/// - position in its list: a fractional index in a register, so a move is one write and
///   concurrent moves resolve to one place;
/// - soft delete and restore: a register (restore after delete wins if it is later).
/// States merge with `merge`, which is idempotent, commutative and associative.
public struct TaskRecord: Equatable, Sendable {
  public let id: String
  /// Every event this state has seen.
  public internal(set) var context = VersionVector()
  public internal(set) var title = TaskText()
  public internal(set) var description = TaskText()
  public internal(set) var status = MultiValueRegister<String>()
  public internal(set) var priority = MultiValueRegister<Int64>()
  public internal(set) var category = MultiValueRegister<String>()
  /// Milliseconds since 1970; nil: no due date.
  public internal(set) var dueDate = MultiValueRegister<Int64?>()
  public internal(set) var position = MultiValueRegister<[UInt8]>()
  public internal(set) var deleted = MultiValueRegister<Bool>()
  public internal(set) var assignees = AddWinsSet<String>()
  public internal(set) var tags = AddWinsSet<String>()

  public init(id: String) { self.id = id }

  /// A field that holds one value.
  public enum Field: Sendable {
    case title(String)
    case description(String)
    case status(String)
    case priority(Int64)
    case category(String)
    case dueDate(Int64?)
    case position([UInt8])
    case deleted(Bool)
  }

  /// Sets a field as `clock`'s replica at wall time `wallMs`. Setting the title or the
  /// description replaces its text (`TaskText.replace`: only what differs from the text here is
  /// deleted and inserted): a concurrent edit of the part that changed is kept beside the new
  /// text, not overwritten. Throws `.tooLarge` past a text field's limit, changing nothing.
  public mutating func set(_ field: Field, by clock: inout ReplicaClock, wallMs: UInt64) throws(RealtimeError) {
    switch field {
    case .title(let v): return try title.replace(with: v, by: clock.replica)
    case .description(let v): return try description.replace(with: v, by: clock.replica)
    default: break
    }
    let dot = context.next(clock.replica)
    let time = clock.hlc.now(wallMs: wallMs)
    switch field {
    case .title, .description: break
    case .status(let v): status.set(v, dot: dot, time: time)
    case .priority(let v): priority.set(v, dot: dot, time: time)
    case .category(let v): category.set(v, dot: dot, time: time)
    case .dueDate(let v): dueDate.set(v, dot: dot, time: time)
    case .position(let v): position.set(v, dot: dot, time: time)
    case .deleted(let v): deleted.set(v, dot: dot, time: time)
    }
  }

  /// The two text fields of a task.
  public enum TextField: Sendable {
    case title
    case description
  }

  /// Inserts `text` into a text field at `position` (Unicode scalars, or UTF-16 code units with
  /// `utf16`; clamped to the text) as `clock`'s replica. Throws `.tooLarge` past the field's
  /// limit, changing nothing.
  public mutating func insert(
    _ text: String, into field: TextField, at position: Int, utf16: Bool = false, by clock: ReplicaClock
  ) throws(RealtimeError) {
    switch field {
    case .title: try title.insert(text, at: position, utf16: utf16, by: clock.replica)
    case .description: try description.insert(text, at: position, utf16: utf16, by: clock.replica)
    }
  }

  /// Deletes `length` characters of a text field from `position` (units as in
  /// `insert(_:into:at:utf16:by:)`; clamped; a surrogate pair cut in two is deleted whole).
  public mutating func delete(
    from field: TextField, at position: Int, length: Int, utf16: Bool = false, by clock: ReplicaClock
  ) {
    switch field {
    case .title: title.delete(at: position, length: length, utf16: utf16, by: clock.replica)
    case .description: description.delete(at: position, length: length, utf16: utf16, by: clock.replica)
    }
  }

  /// A text field.
  public subscript(field: TextField) -> TaskText {
    switch field {
    case .title: title
    case .description: description
    }
  }

  /// The two sets of a task.
  public enum SetField: Sendable {
    case assignees
    case tags
  }

  public mutating func insert(_ element: String, into field: SetField, by clock: ReplicaClock) {
    let dot = context.next(clock.replica)
    switch field {
    case .assignees: assignees.insert(element, dot: dot)
    case .tags: tags.insert(element, dot: dot)
    }
  }

  public mutating func remove(_ element: String, from field: SetField) {
    switch field {
    case .assignees: assignees.remove(element)
    case .tags: tags.remove(element)
    }
  }

  /// Merges another replica's state of the same task (a different id is refused; a text field
  /// that would pass its limit is `.tooLarge`; either changes nothing).
  public mutating func merge(_ other: TaskRecord) throws(RealtimeError) {
    guard other.id == id else { throw RealtimeError(.invalidArgument, "task \(other.id) is not task \(id)") }
    var (newTitle, newDescription) = (title, description)
    try newTitle.merge(other.title)
    try newDescription.merge(other.description)
    (title, description) = (newTitle, newDescription)
    let (a, b) = (context, other.context)
    status = status.joined(a, other.status, b)
    priority = priority.joined(a, other.priority, b)
    category = category.joined(a, other.category, b)
    dueDate = dueDate.joined(a, other.dueDate, b)
    position = position.joined(a, other.position, b)
    deleted = deleted.joined(a, other.deleted, b)
    assignees = assignees.joined(a, other.assignees, b)
    tags = tags.joined(a, other.tags, b)
    context.merge(b)
  }

  /// Characters of the text fields, deleted and waiting ones included.
  var textCharacters: Int { title.characters + description.characters }

  /// The newest timestamp of any live write, for a replica's clock to observe after a merge.
  public var newestTime: UInt64 {
    [
      status.writes.values.map(\.time).max(), priority.writes.values.map(\.time).max(),
      category.writes.values.map(\.time).max(), dueDate.writes.values.map(\.time).max(),
      position.writes.values.map(\.time).max(), deleted.writes.values.map(\.time).max(),
    ].compactMap { $0 }.max() ?? 0
  }
}
