/// Decodes the compact binary encoding (`docs/protocol.md`): a format byte (1), the message type
/// code, then fields in the Protocol Buffers wire format — a varint key (field number << 3 | wire
/// type), then a varint (wire type 0) or a varint length and that many bytes (wire type 2). Each
/// field at most once; unknown field numbers are skipped so newer clients can add fields. Never
/// traps; every problem is a `ProtocolFault`.
struct BinaryEnvelopeReader {
  /// The format byte this version writes and reads.
  static let format: UInt8 = 1

  private let bytes: [UInt8]
  private var i = 0
  private let limits: EnvelopeLimits

  /// Decodes `bytes`.
  static func decode(_ bytes: [UInt8], limits: EnvelopeLimits = EnvelopeLimits()) throws(ProtocolFault) -> Envelope {
    var reader = BinaryEnvelopeReader(bytes: bytes, limits: limits)
    return try reader.envelope()
  }

  private init(bytes: [UInt8], limits: EnvelopeLimits) {
    self.bytes = bytes
    self.limits = limits
  }

  private mutating func envelope() throws(ProtocolFault) -> Envelope {
    guard bytes.count >= 2 else { throw fault("a message needs a format byte and a type") }
    guard bytes[0] == Self.format else {
      throw ProtocolFault(.unsupportedVersion, "binary format \(bytes[0]) is not supported; this server reads format 1")
    }
    guard let type = MessageType(rawValue: bytes[1]) else {
      throw ProtocolFault(.unknownType, "unknown message type code \(bytes[1])")
    }
    var envelope = Envelope(type)
    var seen: UInt32 = 0
    var jsonData = false
    i = 2
    do throws(ProtocolFault) {
      while i < bytes.count {
        let keyAt = i
        let key = try varint()
        let number = key >> 3
        let wireType = key & 7
        guard let field = EnvelopeField(rawValue: number) else {
          try skip(wireType: wireType, at: keyAt)
          continue
        }
        let bit = UInt32(1) << UInt32(field.rawValue)
        guard seen & bit == 0 else { throw fault("field \(number) appears twice", at: keyAt) }
        seen |= bit
        let expected: UInt64 = field.kind == .integer || field.kind == .bool ? 0 : 2
        guard wireType == expected else {
          throw fault("field \(number) (\(field.key)) has wire type \(wireType), expected \(expected)", at: keyAt)
        }
        switch field.kind {
        case .integer:
          envelope.set(field, integer: try varint())
        case .bool:
          let value = try varint()
          guard value <= 1 else { throw fault("field \(number) (\(field.key)) must be 0 or 1", at: keyAt) }
          if field == .json { jsonData = value == 1 } else { envelope.set(field, bool: value == 1) }
        case .string:
          let raw = try lengthDelimited()
          guard raw.count <= field.maxBytes(limits) else {
            throw ProtocolFault(.tooLarge, "\"\(field.key)\" is longer than \(field.maxBytes(limits)) bytes")
          }
          guard let text = String(validating: raw, as: UTF8.self) else {
            throw fault("field \(number) (\(field.key)) is not valid UTF-8", at: keyAt)
          }
          envelope.set(field, string: text)
        case .data:
          envelope.data = try lengthDelimited()
        }
      }
      if jsonData, let data = envelope.data {
        guard JSONEnvelopeReader.isSingleValue(data, limits: limits) else {
          throw fault("data marked as JSON is not one JSON value (or is nested too deep)")
        }
        envelope.dataIsJSON = true
      }
      return envelope
    } catch {
      var error = error
      error.id = envelope.id
      throw error
    }
  }

  private mutating func skip(wireType: UInt64, at: Int) throws(ProtocolFault) {
    switch wireType {
    case 0: _ = try varint()
    case 2: _ = try lengthDelimited()
    default: throw fault("wire type \(wireType) is not used by this protocol", at: at)
    }
  }

  /// An unsigned LEB128 varint of at most 10 bytes that fits 64 bits.
  private mutating func varint() throws(ProtocolFault) -> UInt64 {
    let start = i
    var value: UInt64 = 0
    var shift: UInt64 = 0
    while i < bytes.count {
      let byte = bytes[i]
      i += 1
      if shift == 63 && byte > 1 { throw fault("a varint is larger than 2^64 - 1", at: start) }
      value |= UInt64(byte & 0x7F) << shift
      if byte & 0x80 == 0 { return value }
      shift += 7
    }
    throw fault("a varint is cut off", at: start)
  }

  private mutating func lengthDelimited() throws(ProtocolFault) -> ArraySlice<UInt8> {
    let start = i
    let length = try varint()
    guard length <= UInt64(bytes.count - i) else {
      throw fault("a length of \(length) runs past the end of the message", at: start)
    }
    let end = i + Int(length)
    defer { i = end }
    return bytes[i..<end]
  }

  private func fault(_ what: String, at position: Int? = nil) -> ProtocolFault {
    ProtocolFault(.badRequest, "invalid binary message at byte \(position ?? i): \(what)")
  }
}
