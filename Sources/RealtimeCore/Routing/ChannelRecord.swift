/// How a persistent channel's message is stored in its log entry: a format byte (1), flags (bit 0:
/// the data is JSON), the idempotency key (varint length, bytes), then the data. Read back when a
/// channel's history or idempotency keys are loaded; a damaged entry is an error, never a trap.
enum ChannelRecord {
  static let format: UInt8 = 1

  static func encode(data: some Collection<UInt8>, dataIsJSON: Bool, idempotencyKey: String?) -> [UInt8] {
    let key = idempotencyKey.map { Array($0.utf8) } ?? []
    var out: [UInt8] = [format, dataIsJSON ? 1 : 0]
    out.reserveCapacity(data.count + key.count + 8)
    EnvelopeWriter.appendVarint(UInt64(key.count), to: &out)
    out.append(contentsOf: key)
    out.append(contentsOf: data)
    return out
  }

  struct Decoded: Equatable {
    var data: [UInt8]
    var dataIsJSON: Bool
    var idempotencyKey: String?
  }

  static func decode(_ bytes: [UInt8]) throws(RealtimeError) -> Decoded {
    guard bytes.count >= 3, bytes[0] == format, bytes[1] <= 1 else {
      throw RealtimeError(.corrupt, "a stored channel message has an unknown format")
    }
    var i = 2
    var length: UInt64 = 0
    var shift: UInt64 = 0
    while true {
      guard i < bytes.count, shift < 64 else {
        throw RealtimeError(.corrupt, "a stored channel message is cut off")
      }
      let byte = bytes[i]
      i += 1
      length |= UInt64(byte & 0x7F) << shift
      if byte & 0x80 == 0 { break }
      shift += 7
    }
    guard length <= UInt64(bytes.count - i) else {
      throw RealtimeError(.corrupt, "a stored channel message is cut off")
    }
    let keyEnd = i + Int(length)
    let key = length == 0 ? nil : String(validating: bytes[i..<keyEnd], as: UTF8.self)
    if length > 0 && key == nil {
      throw RealtimeError(.corrupt, "a stored channel message has a key that is not UTF-8")
    }
    return Decoded(data: Array(bytes[keyEnd...]), dataIsJSON: bytes[1] == 1, idempotencyKey: key)
  }
}
