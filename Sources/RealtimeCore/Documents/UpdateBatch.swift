/// The body of one stored log entry of a document: the updates committed or applied since the
/// previous entry, each length-prefixed (a varint count, then per update a varint length and the
/// bytes). Editors commit an update per keystroke; storing them one row per loop turn instead of
/// one row per update keeps SQLite's cost per turn, not per keystroke.
enum UpdateBatch {
  static let maxUpdates = 1 << 20

  static func encode(_ updates: [ArraySlice<UInt8>]) -> [UInt8] {
    var w = ByteWriter()
    w.varint(UInt64(updates.count))
    for u in updates {
      w.varint(UInt64(u.count))
      w.out += u
    }
    return w.out
  }

  static func decode(_ body: [UInt8]) throws(RealtimeError) -> [[UInt8]] {
    var r = ByteReader(body, what: "stored document updates")
    var out: [[UInt8]] = []
    for _ in 0..<(try r.count(max: maxUpdates)) { out.append(try r.data(max: DocumentLimits.maxUpdateBytes)) }
    guard r.atEnd else { throw r.fault("trailing bytes") }
    return out
  }
}
