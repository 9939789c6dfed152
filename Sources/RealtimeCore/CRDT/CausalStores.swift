/// The dot stores of causal CRDTs (Almeida, Shoker and Baquero, "Delta State Replicated Data
/// Types"): each keeps the events that are still live, and the enclosing state keeps a
/// `VersionVector` of every event seen. Joining two states keeps a live event when both have
/// it, or when one has it and the other has not seen it; an event one side has seen but no
/// longer holds was overwritten or removed there, and stays so. Joins are idempotent,
/// commutative and associative, so replicas converge whatever the order, duplication or
/// repetition of what they exchange.
enum CausalJoin {
  /// Joins two event → value maps under their contexts.
  static func join<V: Equatable>(
    _ a: [Dot: V], _ contextA: VersionVector, _ b: [Dot: V], _ contextB: VersionVector
  ) -> [Dot: V] {
    var out: [Dot: V] = [:]
    for (dot, value) in a where b[dot] != nil || !contextB.contains(dot) { out[dot] = value }
    for (dot, value) in b where out[dot] == nil && !contextA.contains(dot) { out[dot] = value }
    return out
  }

  /// Joins two event sets under their contexts.
  static func join(_ a: Set<Dot>, _ contextA: VersionVector, _ b: Set<Dot>, _ contextB: VersionVector) -> Set<Dot> {
    a.intersection(b).union(a.filter { !contextB.contains($0) }).union(b.filter { !contextA.contains($0) })
  }
}

/// A multi-value register: setting it overwrites every value its replica has seen; values set
/// concurrently all stay, visible as a conflict, until a later set resolves them. `value` picks
/// the last writer among them by timestamp (then replica), so readers always have one answer.
public struct MultiValueRegister<V: Equatable & Sendable>: Equatable, Sendable {
  /// Live writes: the event, its timestamp (hybrid logical clock) and value.
  var writes: [Dot: Timestamped<V>] = [:]

  public init() {}

  /// The last writer's value among the live ones; nil if never set.
  public var value: V? { writes.max { ($0.value.time, $0.key) < ($1.value.time, $1.key) }?.value.value }

  /// Every live value, last writer first: more than one is a conflict.
  public var values: [V] {
    writes.sorted { ($0.value.time, $0.key) > ($1.value.time, $1.key) }.map(\.value.value)
  }

  public var isConflicted: Bool { writes.count > 1 }

  /// Sets the value as event `dot` at `time`, overwriting every live value (all are seen here).
  mutating func set(_ value: V, dot: Dot, time: UInt64) {
    writes = [dot: Timestamped(time: time, value: value)]
  }

  func joined(_ contextSelf: VersionVector, _ other: Self, _ contextOther: VersionVector) -> Self {
    var out = Self()
    out.writes = CausalJoin.join(writes, contextSelf, other.writes, contextOther)
    return out
  }
}

/// A value with the timestamp it was written at.
struct Timestamped<V: Equatable & Sendable>: Equatable, Sendable {
  let time: UInt64
  let value: V
}

/// An add-wins set: an element is in while some add of it has not been seen by a remove, so an
/// add concurrent with a remove wins.
public struct AddWinsSet<E: Hashable & Sendable>: Equatable, Sendable {
  /// Per element, the live events that added it.
  var adds: [E: Set<Dot>] = [:]

  public init() {}

  public var elements: Set<E> { Set(adds.keys) }
  public func contains(_ element: E) -> Bool { adds[element] != nil }

  mutating func insert(_ element: E, dot: Dot) {
    var key = element
    if let i = adds.index(forKey: element) { key = Self.preferred(adds.remove(at: i).key, element) }
    adds[key] = [dot]
  }

  mutating func remove(_ element: E) { adds[element] = nil }

  /// The stored spelling of `element`, if it is in.
  func storedKey(_ element: E) -> E? { adds.index(forKey: element).map { adds[$0].key } }

  /// Of two equal elements, the one every replica keeps. Swift compares strings by canonical
  /// equivalence ("é" and "e" + U+0301 are one element), so for strings: the smaller UTF-8
  /// spelling. Taking the smaller is idempotent, commutative and associative, so replicas that
  /// saw different spellings end with the same bytes.
  static func preferred(_ a: E, _ b: E) -> E {
    if let x = a as? String, let y = b as? String, Array(y.utf8).lexicographicallyPrecedes(Array(x.utf8)) {
      return b
    }
    return a
  }

  func joined(_ contextSelf: VersionVector, _ other: Self, _ contextOther: VersionVector) -> Self {
    var out = Self()
    for element in Set(adds.keys).union(other.adds.keys) {
      let dots = CausalJoin.join(adds[element] ?? [], contextSelf, other.adds[element] ?? [], contextOther)
      guard !dots.isEmpty else { continue }
      let spellings = [storedKey(element), other.storedKey(element)].compactMap { $0 }
      out.adds[spellings.dropFirst().reduce(spellings.first ?? element, Self.preferred)] = dots
    }
    return out
  }
}
