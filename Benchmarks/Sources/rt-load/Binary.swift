// rt-load's side of the protocol's binary encoding (docs/protocol.md, "Binary encoding"): what a
// subscriber sends with --binary and how it reads what comes back. Format byte 1, the type code,
// then Protocol Buffers wire-format fields.

private let binaryFormat: UInt8 = 1
private let typeConnect: UInt8 = 1
private let typeConnected: UInt8 = 2
private let typeError: UInt8 = 5
private let typeDisconnect: UInt8 = 6
private let typeSubscribe: UInt8 = 7
private let typeSubscribed: UInt8 = 8
private let typeMessage: UInt8 = 13
private let typeBatch: UInt8 = 0
private let fieldID: UInt64 = 1
private let fieldVersion: UInt64 = 2
private let fieldData: UInt64 = 5
private let fieldCode: UInt64 = 6
private let fieldChannel: UInt64 = 15
private let fieldOffset: UInt64 = 16
private let fieldBatch: UInt64 = 25

private func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
  var v = value
  while v >= 0x80 {
    out.append(UInt8(truncatingIfNeeded: v) | 0x80)
    v >>= 7
  }
  out.append(UInt8(v))
}

/// `connect` with v 1 (and batch when asked), binary.
func binaryConnectMessage(batch: Bool) -> [UInt8] {
  var out: [UInt8] = [binaryFormat, typeConnect]
  appendVarint(fieldVersion << 3, to: &out)
  out.append(1)
  if batch {
    appendVarint(fieldBatch << 3, to: &out)
    out.append(1)
  }
  return out
}

/// `subscribe` with id 1 and the channel, binary.
func binarySubscribeMessage(channel: [UInt8]) -> [UInt8] {
  var out: [UInt8] = [binaryFormat, typeSubscribe]
  appendVarint(fieldID << 3, to: &out)
  out.append(1)
  appendVarint(fieldChannel << 3 | 2, to: &out)
  appendVarint(UInt64(channel.count), to: &out)
  out += channel
  return out
}

/// Reads a varint at `p[i]`, advancing `i`; nil when malformed or cut short.
private func readVarint(_ p: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ end: Int) -> UInt64? {
  var value: UInt64 = 0
  var shift: UInt64 = 0
  while i < end && shift < 64 {
    let b = p[i]
    i += 1
    value |= UInt64(b & 0x7F) << shift
    if b & 0x80 == 0 { return value }
    shift += 7
  }
  return nil
}

/// The fields of a binary message: the offset and code (integers) and the data's range.
struct BinaryFields {
  var type: UInt8 = 0xFF
  var offset: UInt64?
  var code: UInt64?
  var data: Range<Int>?
}

/// Reads the message in `p[range]`; nil when it is not a well-formed binary message.
func binaryFields(_ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> BinaryFields? {
  guard range.count >= 2, p[range.lowerBound] == binaryFormat else { return nil }
  var fields = BinaryFields(type: p[range.lowerBound + 1])
  var i = range.lowerBound + 2
  let end = range.upperBound
  while i < end {
    guard let key = readVarint(p, &i, end) else { return nil }
    switch key & 7 {
    case 0:
      guard let value = readVarint(p, &i, end) else { return nil }
      if key >> 3 == fieldOffset { fields.offset = value }
      if key >> 3 == fieldCode { fields.code = value }
    case 2:
      guard let length = readVarint(p, &i, end), length <= UInt64(end - i) else { return nil }
      if key >> 3 == fieldData { fields.data = i..<(i + Int(length)) }
      i += Int(length)
    default: return nil
    }
  }
  return fields
}

extension Runner {
  /// A binary message to a --binary subscriber, in whatever state it is in.
  func binaryMessage(_ client: Client, _ payload: UnsafeBufferPointer<UInt8>) {
    let fields = binaryFields(payload, 0..<payload.count)
    if client.state == .greeting {
      guard let fields, fields.type == typeConnected else {
        return fail(client, "binary connect reply of type \(fields.map { "\($0.type)" } ?? "unreadable")")
      }
      connectReplies.record(readNs - client.greetingSentAt)
      return opened(client)
    }
    if client.subscribePending {
      guard let fields, fields.type == typeSubscribed else {
        let what = fields.map { "type \($0.type) code \($0.code ?? 0)" } ?? "unreadable"
        return subscribeRefused(client, "binary subscribe reply \(what)", detail: what)
      }
      return subscribeAccepted(client, offset: fields.offset)
    }
    guard client.subscribed else {
      serverDataFrames += 1
      return
    }
    if fan.deliveryMessageBytes == 0 { fan.deliveryMessageBytes = payload.count }
    guard let fields else {
      fan.unparsable += 1
      return checkAllDelivered()
    }
    if fields.type == typeBatch {
      // The format byte, type 0, then each message as its length (varint) and its bytes.
      fan.arrayFrames += 1
      var i = 2
      while i < payload.count {
        guard let length = readVarint(payload, &i, payload.count), length <= UInt64(payload.count - i) else {
          fan.unparsable += 1
          break
        }
        binaryDelivery(client, payload, binaryFields(payload, i..<(i + Int(length))))
        i += Int(length)
      }
    } else {
      binaryDelivery(client, payload, fields)
    }
    checkAllDelivered()
  }

  private func binaryDelivery(_ client: Client, _ p: UnsafeBufferPointer<UInt8>, _ fields: BinaryFields?) {
    guard let fields, fields.type == typeMessage else {
      if let fields, fields.type == typeError || fields.type == typeDisconnect {
        fan.subscriberErrors["binary type \(fields.type) code \(fields.code ?? 0)", default: 0] += 1
      } else {
        fan.otherMessages += 1
      }
      return
    }
    guard let data = fields.data, !data.isEmpty, p[data.lowerBound] == UInt8(ascii: "{") else {
      fan.received += 1
      fan.unparsable += 1
      return
    }
    delivered(client, p, data: data, offset: fields.offset)
  }
}
