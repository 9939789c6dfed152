/// Positions in a list as byte strings compared lexicographically: a key can always be made
/// between two others, so moving an item rewrites only its own key, and concurrent moves by
/// different replicas never collide (every key ends with its replica's id and a non-zero byte).
public enum FractionalIndex {
  /// A key after `before` (empty: the start) and before `after` (nil: the end), for `replica`.
  /// Keys that are out of order (a hostile or damaged state) give a key after `before`.
  public static func between(_ before: [UInt8], _ after: [UInt8]?, replica: ReplicaID) -> [UInt8] {
    var key: [UInt8] = []
    var upper = after.flatMap { before.lexicographicallyPrecedes($0) ? $0 : nil }
    var i = 0
    // Bounded: each step either ends or copies a digit of `before`, then the upper bound is gone.
    while i <= before.count + (upper?.count ?? 0) + 1 {
      let low = i < before.count ? Int(before[i]) : 0
      let high = upper.map { i < $0.count ? Int($0[i]) : 0 } ?? 256
      if high - low > 1 {
        key.append(UInt8(low + (high - low) / 2))
        break
      }
      key.append(UInt8(low))
      if high > low { upper = nil }
      i += 1
    }
    withUnsafeBytes(of: replica.raw.bigEndian) { key += $0 }
    key.append(1)
    return key
  }
}
