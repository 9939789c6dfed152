/// A run of characters one replica typed one after another: ids `id ..< end`. The first was
/// typed between `originLeft` and `originRight` (the ids on either side at the time, `none` at
/// the ends); each next one right after the one before, with the same right origin. An id packs
/// the replica's index in the document's table (high 32 bits) and a clock (low 32 bits), so a run
/// is a range of integers and one comparison tells whether it holds an id.
struct TextSpan: Equatable {
  var id: UInt64
  var length: UInt32
  var deleted: Bool
  var originLeft: UInt64
  var originRight: UInt64

  /// No character: an origin at the start or the end of the document.
  static let none = UInt64.max

  var end: UInt64 { id &+ UInt64(length) }
  var last: UInt64 { id &+ UInt64(length) &- 1 }
  var replica: Int { Int(truncatingIfNeeded: id >> 32) }
  var clock: Int { Int(truncatingIfNeeded: id & 0xFFFF_FFFF) }

  func contains(_ x: UInt64) -> Bool { x >= id && x < end }

  /// Whether `next` continues this run as if typed in one go: the next ids, each right after the
  /// one before, with the same right origin and the same deletion state. Such runs merge.
  func isContinued(by next: TextSpan) -> Bool {
    next.id == end && next.originLeft == last && next.originRight == originRight && next.deleted == deleted
  }
}

/// Packs a replica index and a clock into an id.
@inline(__always) func textID(_ replica: Int, _ clock: Int) -> UInt64 {
  UInt64(truncatingIfNeeded: replica) << 32 | UInt64(truncatingIfNeeded: clock)
}
