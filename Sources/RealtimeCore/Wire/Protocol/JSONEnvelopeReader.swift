/// Decodes a JSON text message into an `Envelope` (RFC 8259, strictly): one object, each key at
/// most once, `type` required, known keys with the right kinds, unknown keys skipped (their values
/// still checked) so newer clients can add fields. `data` may be any JSON value: it is checked
/// and kept as raw bytes, never turned into objects, so routing can pass it on as it came.
/// Never traps; every problem is a `ProtocolFault` with a message that says where.
///
/// The input must be valid UTF-8 (the WebSocket layer checks text frames); the reader checks the
/// JSON grammar, escapes and surrogate pairs, and that strings hold no control characters.
struct JSONEnvelopeReader {
  private let bytes: [UInt8]
  private var i = 0
  private let limits: EnvelopeLimits

  /// Decodes `bytes`.
  static func decode(_ bytes: [UInt8], limits: EnvelopeLimits = EnvelopeLimits()) throws(ProtocolFault) -> Envelope {
    var reader = JSONEnvelopeReader(bytes: bytes, limits: limits)
    return try reader.envelope()
  }

  /// Whether `bytes` are exactly one JSON value (with optional surrounding whitespace) in valid
  /// UTF-8, nested at most `limits.maxDepth` deep: what a binary message marks as JSON data.
  static func isSingleValue(_ bytes: ArraySlice<UInt8>, limits: EnvelopeLimits = EnvelopeLimits()) -> Bool {
    let copy = Array(bytes)
    guard copy.withUnsafeBytes({ UTF8Validator.isValid($0) }) else { return false }
    var reader = JSONEnvelopeReader(bytes: copy, limits: limits)
    reader.skipSpace()
    guard (try? reader.skipValue(depth: 0)) != nil else { return false }
    reader.skipSpace()
    return reader.i == copy.count
  }

  private init(bytes: [UInt8], limits: EnvelopeLimits) {
    self.bytes = bytes
    self.limits = limits
  }

  private mutating func envelope() throws(ProtocolFault) -> Envelope {
    var envelope = Envelope(.ping)
    var type: MessageType?
    var unknownType: String?
    var seen: UInt32 = 0
    var id: UInt64?
    do throws(ProtocolFault) {
      skipSpace()
      guard next() == UInt8(ascii: "{") else { throw fault("a message is a JSON object") }
      skipSpace()
      if peek() == UInt8(ascii: "}") {
        i += 1
      } else {
        while true {
          skipSpace()
          let keyStart = i
          let key = try string()
          skipSpace()
          guard next() == UInt8(ascii: ":") else { throw fault("expected ':' after a key") }
          skipSpace()
          if key.elementsEqual("type".utf8) {
            guard seen & 1 == 0 else { throw fault("\"type\" appears twice", at: keyStart) }
            seen |= 1
            let name = try string()
            type = MessageType(name: name)
            // Read on, so the error can carry the message's id.
            if type == nil { unknownType = String(decoding: name.prefix(64), as: UTF8.self) }
          } else if key.elementsEqual("data_b64".utf8) {
            // Bytes that are not JSON, as base64; the same field as `data`.
            let bit = UInt32(1) << UInt32(EnvelopeField.data.rawValue)
            guard seen & bit == 0 else { throw fault("\"data\" and \"data_b64\" together, or twice", at: keyStart) }
            seen |= bit
            let start = i
            guard let bytes = Base64.decode(try string()) else {
              throw fault("\"data_b64\" is not canonical base64", at: start)
            }
            envelope.data = bytes[...]
            envelope.dataIsJSON = false
          } else if let field = EnvelopeField(key: key), field != .json {
            let bit = UInt32(1) << UInt32(field.rawValue)
            guard seen & bit == 0 else {
              throw fault(
                field == .data ? "\"data\" and \"data_b64\" together, or twice" : "\"\(field.key)\" appears twice",
                at: keyStart)
            }
            seen |= bit
            try value(of: field, into: &envelope)
            if field == .id { id = envelope.id }
          } else {
            try skipValue(depth: 0)
          }
          skipSpace()
          switch next() {
          case UInt8(ascii: ","): continue
          case UInt8(ascii: "}"): break
          default: throw fault("expected ',' or '}' after a value")
          }
          break
        }
      }
      skipSpace()
      guard i == bytes.count else { throw fault("unexpected bytes after the message") }
      if let unknownType { throw ProtocolFault(.unknownType, "unknown message type \"\(unknownType)\"") }
      guard let type else { throw ProtocolFault(.badRequest, "the message has no \"type\"") }
      envelope.type = type
      return envelope
    } catch {
      var error = error
      error.id = id
      throw error
    }
  }

  private mutating func value(of field: EnvelopeField, into envelope: inout Envelope) throws(ProtocolFault) {
    if literal("null") { return }  // null is an absent field
    switch field.kind {
    case .integer:
      if field == .code, peek() == UInt8(ascii: "\"") {
        let name = try string()
        guard let code = ProtocolErrorCode(name: name) else { throw fault("unknown error code") }
        envelope.code = code.rawValue
      } else {
        envelope.set(field, integer: try integer(field.key))
      }
    case .string:
      let start = i
      let raw = try string()
      guard raw.count <= field.maxBytes(limits) else {
        throw ProtocolFault(.tooLarge, "\"\(field.key)\" is longer than \(field.maxBytes(limits)) bytes")
      }
      guard let text = String(validating: raw, as: UTF8.self) else {
        throw fault("\"\(field.key)\" is not valid UTF-8", at: start)
      }
      envelope.set(field, string: text)
    case .bool:
      if literal("true") {
        envelope.set(field, bool: true)
      } else if literal("false") {
        envelope.set(field, bool: false)
      } else {
        throw fault("\"\(field.key)\" must be true or false")
      }
    case .data:
      let start = i
      try skipValue(depth: 0)
      envelope.data = bytes[start..<i]
      envelope.dataIsJSON = true
    }
  }

  // MARK: - Grammar

  private func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

  private mutating func next() -> UInt8? {
    guard i < bytes.count else { return nil }
    defer { i += 1 }
    return bytes[i]
  }

  private mutating func skipSpace() {
    while i < bytes.count {
      switch bytes[i] {
      case 0x20, 0x09, 0x0A, 0x0D: i += 1
      default: return
      }
    }
  }

  /// Consumes `word` if it is next.
  private mutating func literal(_ word: StaticString) -> Bool {
    let count = word.utf8CodeUnitCount
    guard bytes.count - i >= count else { return false }
    let matches = word.withUTF8Buffer { $0.elementsEqual(bytes[i..<(i + count)]) }
    if matches { i += count }
    return matches
  }

  /// A non-negative integer without sign, fraction or exponent that fits 64 bits.
  private mutating func integer(_ name: String) throws(ProtocolFault) -> UInt64 {
    let start = i
    var value: UInt64 = 0
    while let byte = peek(), byte >= 0x30, byte <= 0x39 {
      let (times, o1) = value.multipliedReportingOverflow(by: 10)
      let (sum, o2) = times.addingReportingOverflow(UInt64(byte - 0x30))
      guard !o1, !o2 else { throw fault("\"\(name)\" is larger than 2^64 - 1", at: start) }
      value = sum
      i += 1
    }
    guard i > start else { throw fault("\"\(name)\" must be a non-negative integer", at: start) }
    guard bytes[start] != 0x30 || i - start == 1 else { throw fault("\"\(name)\" has a leading zero", at: start) }
    if let byte = peek(), byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
      throw fault("\"\(name)\" must be an integer", at: start)
    }
    return value
  }

  /// A string's content with escapes resolved. A string without escapes is a slice of the input.
  private mutating func string() throws(ProtocolFault) -> ArraySlice<UInt8> {
    let start = i
    guard next() == UInt8(ascii: "\"") else { throw fault("expected a string", at: start) }
    let contentStart = i
    while i < bytes.count {
      let byte = bytes[i]
      if byte == UInt8(ascii: "\"") {
        i += 1
        return bytes[contentStart..<(i - 1)]
      }
      if byte == UInt8(ascii: "\\") { break }
      guard byte >= 0x20 else { throw fault("a control character inside a string") }
      i += 1
    }
    // Escapes: copy what came so far and decode the rest.
    var out = Array(bytes[contentStart..<i])
    while let byte = next() {
      switch byte {
      case UInt8(ascii: "\""):
        return out[...]
      case UInt8(ascii: "\\"):
        try escape(into: &out)
      case ..<0x20:
        throw fault("a control character inside a string", at: i - 1)
      default:
        out.append(byte)
      }
    }
    throw fault("a string is not closed", at: start)
  }

  private mutating func escape(into out: inout [UInt8]) throws(ProtocolFault) {
    let at = i - 1
    switch next() {
    case UInt8(ascii: "\""): out.append(0x22)
    case UInt8(ascii: "\\"): out.append(0x5C)
    case UInt8(ascii: "/"): out.append(0x2F)
    case UInt8(ascii: "b"): out.append(0x08)
    case UInt8(ascii: "f"): out.append(0x0C)
    case UInt8(ascii: "n"): out.append(0x0A)
    case UInt8(ascii: "r"): out.append(0x0D)
    case UInt8(ascii: "t"): out.append(0x09)
    case UInt8(ascii: "u"):
      var scalar = UInt32(try hex4())
      if (0xD800...0xDBFF).contains(scalar) {
        guard literal("\\u") else { throw fault("a lone surrogate in a \\u escape", at: at) }
        let low = UInt32(try hex4())
        guard (0xDC00...0xDFFF).contains(low) else { throw fault("a lone surrogate in a \\u escape", at: at) }
        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
      } else if (0xDC00...0xDFFF).contains(scalar) {
        throw fault("a lone surrogate in a \\u escape", at: at)
      }
      guard let unicode = Unicode.Scalar(scalar) else { throw fault("an invalid \\u escape", at: at) }
      out.append(contentsOf: unicode.utf8)
    default:
      throw fault("an invalid escape", at: at)
    }
  }

  private mutating func hex4() throws(ProtocolFault) -> UInt16 {
    var value: UInt16 = 0
    for _ in 0..<4 {
      guard let byte = next() else { throw fault("a \\u escape needs four hex digits") }
      let digit: UInt8
      switch byte {
      case 0x30...0x39: digit = byte - 0x30
      case 0x41...0x46: digit = byte - 0x41 + 10
      case 0x61...0x66: digit = byte - 0x61 + 10
      default: throw fault("a \\u escape needs four hex digits", at: i - 1)
      }
      value = value << 4 | UInt16(digit)
    }
    return value
  }

  /// Checks and passes over any JSON value, nested at most `limits.maxDepth` deep.
  private mutating func skipValue(depth: Int) throws(ProtocolFault) {
    guard depth < limits.maxDepth else {
      throw ProtocolFault(.tooLarge, "a value is nested deeper than \(limits.maxDepth) levels")
    }
    switch peek() {
    case UInt8(ascii: "{"):
      i += 1
      skipSpace()
      if peek() == UInt8(ascii: "}") {
        i += 1
        return
      }
      while true {
        skipSpace()
        _ = try string()
        skipSpace()
        guard next() == UInt8(ascii: ":") else { throw fault("expected ':' after a key") }
        skipSpace()
        try skipValue(depth: depth + 1)
        skipSpace()
        switch next() {
        case UInt8(ascii: ","): continue
        case UInt8(ascii: "}"): return
        default: throw fault("expected ',' or '}' in an object")
        }
      }
    case UInt8(ascii: "["):
      i += 1
      skipSpace()
      if peek() == UInt8(ascii: "]") {
        i += 1
        return
      }
      while true {
        skipSpace()
        try skipValue(depth: depth + 1)
        skipSpace()
        switch next() {
        case UInt8(ascii: ","): continue
        case UInt8(ascii: "]"): return
        default: throw fault("expected ',' or ']' in an array")
        }
      }
    case UInt8(ascii: "\""):
      _ = try string()
    case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
      guard literal("true") || literal("false") || literal("null") else { throw fault("an invalid literal") }
    default:
      try number()
    }
  }

  /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
  private mutating func number() throws(ProtocolFault) {
    let start = i
    if peek() == UInt8(ascii: "-") { i += 1 }
    guard let first = peek(), isDigit(first) else { throw fault("expected a value", at: start) }
    i += 1
    if first != 0x30 { skipDigits() }
    if peek() == UInt8(ascii: ".") {
      i += 1
      guard let byte = peek(), isDigit(byte) else { throw fault("a number needs digits after '.'", at: start) }
      skipDigits()
    }
    if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
      i += 1
      if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { i += 1 }
      guard let byte = peek(), isDigit(byte) else { throw fault("a number needs digits in its exponent", at: start) }
      skipDigits()
    }
  }

  private func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

  private mutating func skipDigits() {
    while let byte = peek(), isDigit(byte) { i += 1 }
  }

  private func fault(_ what: String, at position: Int? = nil) -> ProtocolFault {
    ProtocolFault(.badRequest, "invalid JSON message at byte \(position ?? max(i - 1, 0)): \(what)")
  }
}
