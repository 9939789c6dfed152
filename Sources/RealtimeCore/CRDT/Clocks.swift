/// A replica: one device's copy of a document, named by a random 64-bit id.
public struct ReplicaID: Hashable, Comparable, Sendable, CustomStringConvertible {
  public let raw: UInt64
  public init(_ raw: UInt64) { self.raw = raw }
  public static func < (a: ReplicaID, b: ReplicaID) -> Bool { a.raw < b.raw }
  public var description: String { String(raw, radix: 16) }
}

/// One event of one replica: the replica and its counter (1, 2, 3, ... per replica).
public struct Dot: Hashable, Comparable, Sendable {
  public let replica: ReplicaID
  public let counter: UInt64
  public init(_ replica: ReplicaID, _ counter: UInt64) {
    self.replica = replica
    self.counter = counter
  }
  public static func < (a: Dot, b: Dot) -> Bool { (a.replica, a.counter) < (b.replica, b.counter) }
}

/// What a replica has seen: per replica, every counter up to a maximum. (States are merged whole,
/// so what a replica has seen of another is always a prefix of its events.)
public struct VersionVector: Equatable, Sendable {
  public private(set) var counters: [ReplicaID: UInt64] = [:]

  public init() {}

  public func contains(_ dot: Dot) -> Bool { dot.counter <= (counters[dot.replica] ?? 0) }

  public subscript(replica: ReplicaID) -> UInt64 { counters[replica] ?? 0 }

  /// The next event of `replica`, recorded as seen.
  public mutating func next(_ replica: ReplicaID) -> Dot {
    let counter = self[replica] + 1
    counters[replica] = counter
    return Dot(replica, counter)
  }

  /// Records `dot` and everything of its replica before it as seen.
  public mutating func observe(_ dot: Dot) {
    if dot.counter > self[dot.replica] { counters[dot.replica] = dot.counter }
  }

  /// Everything either has seen.
  public mutating func merge(_ other: VersionVector) {
    for (replica, counter) in other.counters where counter > self[replica] { counters[replica] = counter }
  }

  /// Whether everything `other` has seen, this one has too.
  public func includes(_ other: VersionVector) -> Bool {
    other.counters.allSatisfy { $0.value <= self[$0.key] }
  }
}

/// A hybrid logical clock (Kulkarni et al.): wall-clock milliseconds in the high 48 bits and a
/// counter in the low 16, so timestamps follow real time where clocks agree, never go backwards,
/// and order every event a replica has seen before its own next one.
public struct HybridClock: Sendable {
  /// Timestamps more than this far ahead of the local wall clock are refused (a replica with a
  /// clock set to the year 3000 would otherwise win every last-writer-wins register forever).
  public static let maxDriftMs: UInt64 = 86_400_000

  public private(set) var last: UInt64 = 0

  public init() {}

  static func pack(_ ms: UInt64, _ counter: UInt64) -> UInt64 { ms << 16 | counter }

  /// A timestamp for a local event at wall time `wallMs`.
  public mutating func now(wallMs: UInt64) -> UInt64 {
    let physical = Self.pack(min(wallMs, (1 << 48) - 1), 0)
    last = physical > last ? physical : last &+ 1
    return last
  }

  /// Takes a remote timestamp into account, so later local events order after it. Refuses one
  /// more than `maxDriftMs` ahead of `wallMs`.
  public mutating func observe(_ remote: UInt64, wallMs: UInt64) throws(RealtimeError) {
    guard remote >> 16 <= wallMs &+ Self.maxDriftMs else {
      throw RealtimeError(.invalidArgument, "a timestamp \((remote >> 16) &- wallMs) ms in the future")
    }
    last = max(last, remote)
  }
}

extension VersionVector {
  /// Most replicas a decoded vector may name.
  static let maxReplicas = 1 << 16

  /// The vector as bytes (`docs/protocol.md`, "State vectors"): a count, then per replica in id
  /// order its id (8 bytes, little-endian) and its counter (varint). Canonical.
  public func encoded() -> [UInt8] {
    var w = ByteWriter()
    let entries = counters.filter { $0.value > 0 }.sorted { $0.key < $1.key }
    w.varint(UInt64(entries.count))
    for (replica, counter) in entries {
      w.fixed64(replica.raw)
      w.varint(counter)
    }
    return w.out
  }

  /// Decodes `encoded()`'s bytes; anything else (out of order, zero counters, trailing bytes) is
  /// a `.corrupt` error.
  public init(decoding bytes: [UInt8]) throws(RealtimeError) {
    self.init()
    var r = ByteReader(bytes, what: "state vector")
    var last: ReplicaID?
    for _ in 0..<(try r.count(max: Self.maxReplicas)) {
      let replica = ReplicaID(try r.fixed64())
      let counter = try r.varint()
      guard last.map({ $0 < replica }) ?? true, counter > 0 else { throw r.fault("entries out of order or empty") }
      last = replica
      observe(Dot(replica, counter))
    }
    guard r.atEnd else { throw r.fault("trailing bytes") }
  }
}
