/// Encodes envelopes, in JSON (the `type` first, then the fields in field-number order, no
/// spaces) or in the binary form. `data` is written as it is: in JSON it must be a JSON value
/// (as the JSON reader hands it over), in binary it is any bytes.
enum EnvelopeWriter {
  /// The message's bytes in `encoding`.
  static func encode(_ envelope: Envelope, as encoding: EnvelopeEncoding) -> [UInt8] {
    switch encoding {
    case .json: json(envelope)
    case .binary: binary(envelope)
    }
  }

  static func json(_ envelope: Envelope) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(64 + (envelope.data?.count ?? 0) + (envelope.message?.utf8.count ?? 0))
    out.append(contentsOf: #"{"type":""#.utf8)
    out.append(contentsOf: envelope.type.name.utf8)
    out.append(UInt8(ascii: "\""))
    // The type first and the data last, so a reader sees what a message is before its payload.
    envelope.forEachField { field, value in
      if case .data = value { return }
      out.append(UInt8(ascii: ","))
      out.append(UInt8(ascii: "\""))
      out.append(contentsOf: field.key.utf8)
      out.append(contentsOf: #"":"#.utf8)
      switch value {
      case .integer(let number):
        if field == .code && envelope.type == .error, let name = ProtocolErrorCode(rawValue: number).knownName {
          appendJSONString(name, to: &out)
        } else {
          out.append(contentsOf: String(number).utf8)
        }
      case .string(let text): appendJSONString(text, to: &out)
      case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
      case .data: break
      }
    }
    if let raw = envelope.data {
      if envelope.dataIsJSON {
        out.append(contentsOf: #","data":"#.utf8)
        out.append(contentsOf: raw)
      } else {
        out.append(contentsOf: #","data_b64":""#.utf8)
        out.append(contentsOf: Base64.encode(raw))
        out.append(UInt8(ascii: "\""))
      }
    }
    out.append(UInt8(ascii: "}"))
    return out
  }

  static func binary(_ envelope: Envelope) -> [UInt8] {
    var out: [UInt8] = [BinaryEnvelopeReader.format, envelope.type.rawValue]
    out.reserveCapacity(32 + (envelope.data?.count ?? 0) + (envelope.message?.utf8.count ?? 0))
    envelope.forEachField { field, value in
      switch value {
      case .integer(let number):
        appendVarint(field.rawValue << 3, to: &out)
        appendVarint(number, to: &out)
      case .bool(let flag):
        appendVarint(field.rawValue << 3, to: &out)
        out.append(flag ? 1 : 0)
      case .string(let text):
        appendVarint(field.rawValue << 3 | 2, to: &out)
        appendVarint(UInt64(text.utf8.count), to: &out)
        out.append(contentsOf: text.utf8)
      case .data(let raw):
        appendVarint(field.rawValue << 3 | 2, to: &out)
        appendVarint(UInt64(raw.count), to: &out)
        out.append(contentsOf: raw)
        if envelope.dataIsJSON {
          appendVarint(EnvelopeField.json.rawValue << 3, to: &out)
          out.append(1)
        }
      }
    }
    return out
  }

  static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
    var rest = value
    while rest >= 0x80 {
      out.append(UInt8(truncatingIfNeeded: rest) | 0x80)
      rest >>= 7
    }
    out.append(UInt8(rest))
  }

  /// A JSON string literal: quotes, backslashes and control characters escaped, the rest as UTF-8.
  static func appendJSONString(_ text: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    for byte in text.utf8 {
      let escaped: UInt8
      switch byte {
      case UInt8(ascii: "\""), UInt8(ascii: "\\"): escaped = byte
      case 0x0A: escaped = UInt8(ascii: "n")
      case 0x0D: escaped = UInt8(ascii: "r")
      case 0x09: escaped = UInt8(ascii: "t")
      case ..<0x20:
        out.append(0x5C)
        out.append(UInt8(ascii: "u"))
        out.append(0x30)
        out.append(0x30)
        out.append(hexDigit(byte >> 4))
        out.append(hexDigit(byte & 0xF))
        continue
      default:
        out.append(byte)
        continue
      }
      out.append(0x5C)
      out.append(escaped)
    }
    out.append(UInt8(ascii: "\""))
  }

  private static func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x57 + nibble }
}
