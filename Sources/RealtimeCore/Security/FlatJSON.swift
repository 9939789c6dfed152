/// A value of a flat JSON object.
public enum FlatJSONValue: Sendable, Equatable {
  case string(String)
  case integer(Int64)
  case bool(Bool)
  case null
}

/// A strict reader and writer of flat JSON objects (RFC 8259), for token claims and footers:
/// one object whose values are strings, integers, booleans or null. Refused: anything nested
/// (objects, arrays), fractions and exponents, integers outside 64 bits, leading zeros,
/// duplicate keys, unknown or malformed escapes, lone surrogates, raw control characters,
/// invalid UTF-8, anything after the object, more than `maxBytes` or `maxMembers`.
public enum FlatJSON {
  /// Largest text read.
  public static let maxBytes = 8192
  /// Most members read.
  public static let maxMembers = 64

  /// The members of the object in `bytes`, in order. Throws `.corrupt` saying what is wrong
  /// and where.
  public static func parse(_ bytes: some Collection<UInt8>) throws(RealtimeError) -> [(
    key: String, value: FlatJSONValue
  )] {
    guard bytes.count <= maxBytes else {
      throw RealtimeError(.corrupt, "JSON of \(bytes.count) bytes exceeds \(maxBytes)")
    }
    var reader = Reader(bytes: Array(bytes))
    return try reader.object()
  }

  /// `text` as a JSON string, quotes included: `"` and `\` escaped, control characters as
  /// `\uXXXX` (or their short forms).
  public static func quoted(_ text: String) -> String {
    var out = [UInt8]()
    out.reserveCapacity(text.utf8.count + 2)
    out.append(UInt8(ascii: "\""))
    for c in text.utf8 {
      switch c {
      case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
      case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
      case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
      case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
      case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
      case 0..<0x20:
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        out += Array("\\u00".utf8) + [hex[Int(c >> 4)], hex[Int(c & 15)]]
      default: out.append(c)
      }
    }
    out.append(UInt8(ascii: "\""))
    return String(decoding: out, as: UTF8.self)
  }

  /// The members as JSON text, in order, without spaces.
  public static func encode(_ members: [(key: String, value: FlatJSONValue)]) -> String {
    var out = "{"
    for (i, member) in members.enumerated() {
      if i > 0 { out += "," }
      out += quoted(member.key) + ":"
      switch member.value {
      case .string(let s): out += quoted(s)
      case .integer(let n): out += String(n)
      case .bool(let b): out += b ? "true" : "false"
      case .null: out += "null"
      }
    }
    return out + "}"
  }

  private struct Reader {
    let bytes: [UInt8]
    var at = 0

    func fail(_ what: String) -> RealtimeError { RealtimeError(.corrupt, "JSON: \(what) at byte \(at)") }

    mutating func skipSpace() {
      while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x09 || bytes[at] == 0x0A || bytes[at] == 0x0D {
        at += 1
      }
    }

    mutating func expect(_ c: UInt8) throws(RealtimeError) {
      skipSpace()
      guard at < bytes.count, bytes[at] == c else {
        throw fail(at < bytes.count ? "expected '\(Character(Unicode.Scalar(c)))'" : "unexpected end")
      }
      at += 1
    }

    mutating func object() throws(RealtimeError) -> [(key: String, value: FlatJSONValue)] {
      try expect(UInt8(ascii: "{"))
      var members: [(key: String, value: FlatJSONValue)] = []
      var keys = Set<String>()
      skipSpace()
      if at < bytes.count, bytes[at] == UInt8(ascii: "}") {
        at += 1
      } else {
        while true {
          skipSpace()
          guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw fail("expected a key") }
          let key = try string()
          guard keys.insert(key).inserted else { throw fail("duplicate key \(FlatJSON.quoted(key))") }
          guard members.count < FlatJSON.maxMembers else { throw fail("more than \(FlatJSON.maxMembers) members") }
          try expect(UInt8(ascii: ":"))
          members.append((key, try value()))
          skipSpace()
          guard at < bytes.count else { throw fail("unexpected end") }
          if bytes[at] == UInt8(ascii: ",") {
            at += 1
            continue
          }
          guard bytes[at] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
          at += 1
          break
        }
      }
      skipSpace()
      guard at == bytes.count else { throw fail("content after the object") }
      return members
    }

    mutating func value() throws(RealtimeError) -> FlatJSONValue {
      skipSpace()
      guard at < bytes.count else { throw fail("unexpected end") }
      switch bytes[at] {
      case UInt8(ascii: "\""): return .string(try string())
      case UInt8(ascii: "{"), UInt8(ascii: "["): throw fail("nested objects and arrays are not accepted")
      case UInt8(ascii: "t"):
        try literal("true")
        return .bool(true)
      case UInt8(ascii: "f"):
        try literal("false")
        return .bool(false)
      case UInt8(ascii: "n"):
        try literal("null")
        return .null
      case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .integer(try integer())
      default: throw fail("expected a value")
      }
    }

    mutating func literal(_ word: StaticString) throws(RealtimeError) {
      let w = UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
      guard bytes.count - at >= w.count, bytes[at..<at + w.count].elementsEqual(w) else {
        throw fail("expected a value")
      }
      at += w.count
    }

    mutating func integer() throws(RealtimeError) -> Int64 {
      let negative = bytes[at] == UInt8(ascii: "-")
      if negative { at += 1 }
      let start = at
      var magnitude: UInt64 = 0
      while at < bytes.count, bytes[at] >= UInt8(ascii: "0"), bytes[at] <= UInt8(ascii: "9") {
        let (times, o1) = magnitude.multipliedReportingOverflow(by: 10)
        let (plus, o2) = times.addingReportingOverflow(UInt64(bytes[at] - UInt8(ascii: "0")))
        guard !o1, !o2 else { throw fail("integer out of range") }
        magnitude = plus
        at += 1
      }
      guard at > start else { throw fail("expected digits") }
      guard bytes[start] != UInt8(ascii: "0") || at == start + 1 else { throw fail("leading zero") }
      if at < bytes.count,
        bytes[at] == UInt8(ascii: ".") || bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E")
      {
        throw fail("only integers are accepted")
      }
      if negative {
        guard magnitude <= UInt64(Int64.max) + 1 else { throw fail("integer out of range") }
        return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
      }
      guard magnitude <= UInt64(Int64.max) else { throw fail("integer out of range") }
      return Int64(magnitude)
    }

    mutating func hex4() throws(RealtimeError) -> UInt32 {
      guard bytes.count - at >= 4 else { throw fail("short \\u escape") }
      var v: UInt32 = 0
      for _ in 0..<4 {
        let c = bytes[at]
        let d: UInt32
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A")) + 10
        default: throw fail("bad \\u escape")
        }
        v = v << 4 | d
        at += 1
      }
      return v
    }

    /// A string at `at` (its opening quote), unescaped; its bytes must be UTF-8.
    mutating func string() throws(RealtimeError) -> String {
      at += 1
      var out = [UInt8]()
      while true {
        guard at < bytes.count else { throw fail("unterminated string") }
        let c = bytes[at]
        at += 1
        switch c {
        case UInt8(ascii: "\""):
          guard let s = String(validating: out, as: UTF8.self) else { throw fail("a string that is not UTF-8") }
          return s
        case UInt8(ascii: "\\"):
          guard at < bytes.count else { throw fail("unterminated string") }
          let e = bytes[at]
          at += 1
          switch e {
          case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
          case UInt8(ascii: "b"): out.append(0x08)
          case UInt8(ascii: "f"): out.append(0x0C)
          case UInt8(ascii: "n"): out.append(0x0A)
          case UInt8(ascii: "r"): out.append(0x0D)
          case UInt8(ascii: "t"): out.append(0x09)
          case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800..<0xDC00).contains(scalar) {
              guard bytes.count - at >= 2, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else {
                throw fail("a lone surrogate")
              }
              at += 2
              let low = try hex4()
              guard (0xDC00..<0xE000).contains(low) else { throw fail("a lone surrogate") }
              scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let u = Unicode.Scalar(scalar) else { throw fail("a lone surrogate") }
            out += Array(String(Character(u)).utf8)
          default: throw fail("bad escape")
          }
        case 0..<0x20: throw fail("a control character in a string")
        default: out.append(c)
        }
      }
    }
  }
}
