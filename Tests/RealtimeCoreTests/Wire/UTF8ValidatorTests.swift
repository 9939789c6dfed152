import Testing

@testable import RealtimeCore

private func isValid(_ bytes: [UInt8]) -> Bool {
  bytes.withUnsafeBytes { UTF8Validator.isValid($0) }
}

/// Feeds `bytes` one at a time; returns the index of the first byte `feed` refused, or nil,
/// and whether the validator ended on a scalar boundary.
private func firstRefusedByte(_ bytes: [UInt8]) -> (refusedAt: Int?, complete: Bool) {
  var validator = UTF8Validator()
  for (i, byte) in bytes.enumerated() {
    let ok = [byte].withUnsafeBytes { validator.feed($0) }
    if !ok { return (i, validator.isComplete) }
  }
  return (nil, validator.isComplete)
}

/// Feeds `bytes` in pieces cut at `cuts`; nil when a piece was refused, else isComplete.
private func feedPieces(_ bytes: [UInt8], cuts: [Int]) -> Bool? {
  var validator = UTF8Validator()
  var start = 0
  for end in cuts + [bytes.count] {
    let ok = bytes[start..<end].withUnsafeBytes { validator.feed($0) }
    if !ok { return nil }
    start = end
  }
  return validator.isComplete
}

private func stdlibValid(_ bytes: [UInt8]) -> Bool {
  String(validating: bytes, as: UTF8.self) != nil
}

@Suite struct UTF8ValidatorTests {
  static let validSamples: [(String, [UInt8])] = [
    ("empty", []),
    ("ascii", Array("Hello, WebSocket! 0123456789 ~\u{7F}\u{0}".utf8)),
    ("ascii longer than the 8-byte fast path", Array(String(repeating: "abcdefgh", count: 9).utf8) + [0x41]),
    ("U+0080", [0xC2, 0x80]),
    ("U+00E9 é", [0xC3, 0xA9]),
    ("U+07FF", [0xDF, 0xBF]),
    ("U+0800", [0xE0, 0xA0, 0x80]),
    ("U+20AC €", [0xE2, 0x82, 0xAC]),
    ("U+D7FF last before surrogates", [0xED, 0x9F, 0xBF]),
    ("U+E000 first after surrogates", [0xEE, 0x80, 0x80]),
    ("U+FFFD", [0xEF, 0xBF, 0xBD]),
    ("U+FFFF", [0xEF, 0xBF, 0xBF]),
    ("U+10000", [0xF0, 0x90, 0x80, 0x80]),
    ("U+1F600 😀", [0xF0, 0x9F, 0x98, 0x80]),
    ("U+FFFFF", [0xF3, 0xBF, 0xBF, 0xBF]),
    ("U+100000", [0xF4, 0x80, 0x80, 0x80]),
    ("U+10FFFF", [0xF4, 0x8F, 0xBF, 0xBF]),
    ("mixed", Array("aé€😀 κόσμε — ascii after 12345678".utf8)),
    ("multi-byte right after 8 ascii bytes", Array("12345678é".utf8)),
  ]

  @Test(arguments: validSamples.indices)
  func acceptsValidText(_ index: Int) {
    let (name, bytes) = Self.validSamples[index]
    #expect(stdlibValid(bytes), "sample \(name) must itself be valid")
    #expect(isValid(bytes), "\(name)")
    var validator = UTF8Validator()
    #expect(bytes.withUnsafeBytes { validator.feed($0) }, "\(name)")
    #expect(validator.isComplete, "\(name)")
  }

  /// Invalid inputs and the index of the first byte that shows it.
  static let invalidSamples: [(String, [UInt8], Int)] = [
    ("lone continuation 80", [0x80], 0),
    ("lone continuation BF", [0xBF], 0),
    ("continuation after ascii", [0x61, 0x62, 0x80], 2),
    ("continuation after a complete 2-byte", [0xC3, 0xA9, 0xA9], 2),
    ("continuation after 8 ascii bytes (fast path)", Array("abcdefgh".utf8) + [0x80], 8),
    ("continuation after 16 ascii bytes (fast path)", Array("abcdefghijklmnop".utf8) + [0x9F, 0x41], 16),
    ("overlong C0 80 (NUL)", [0xC0, 0x80], 0),
    ("overlong C0 AF (/)", [0xC0, 0xAF], 0),
    ("overlong C1 BF", [0xC1, 0xBF], 0),
    ("overlong E0 80 80", [0xE0, 0x80, 0x80], 1),
    ("overlong E0 80 AF", [0xE0, 0x80, 0xAF], 1),
    ("overlong E0 9F BF", [0xE0, 0x9F, 0xBF], 1),
    ("overlong F0 80 80 80", [0xF0, 0x80, 0x80, 0x80], 1),
    ("overlong F0 80 80 AF", [0xF0, 0x80, 0x80, 0xAF], 1),
    ("overlong F0 8F BF BF", [0xF0, 0x8F, 0xBF, 0xBF], 1),
    ("surrogate ED A0 80 (U+D800)", [0xED, 0xA0, 0x80], 1),
    ("surrogate ED AD BF (U+DB7F)", [0xED, 0xAD, 0xBF], 1),
    ("surrogate ED B0 80 (U+DC00)", [0xED, 0xB0, 0x80], 1),
    ("surrogate ED BF BF (U+DFFF)", [0xED, 0xBF, 0xBF], 1),
    ("surrogate pair as CESU-8", [0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80], 1),
    ("above U+10FFFF: F4 90 80 80", [0xF4, 0x90, 0x80, 0x80], 1),
    ("above U+10FFFF: F4 BF BF BF", [0xF4, 0xBF, 0xBF, 0xBF], 1),
    ("F5 lead", [0xF5, 0x80, 0x80, 0x80], 0),
    ("F7 lead", [0xF7, 0xBF, 0xBF, 0xBF], 0),
    ("F8 lead (5-byte form)", [0xF8, 0x88, 0x80, 0x80, 0x80], 0),
    ("FC lead (6-byte form)", [0xFC, 0x84, 0x80, 0x80, 0x80, 0x80], 0),
    ("FE", [0xFE], 0),
    ("FF", [0xFF], 0),
    ("FF after valid text", Array("κόσμε".utf8) + [0xFF], Array("κόσμε".utf8).count),
    ("2-byte lead then ascii", [0xC3, 0x41], 1),
    ("3-byte lead then ascii", [0xE2, 0x82, 0x41], 2),
    ("4-byte lead then ascii", [0xF0, 0x9F, 0x98, 0x41], 3),
    ("lead then lead", [0xC3, 0xC3, 0xA9], 1),
    ("E0 then a valid continuation then a lead", [0xE0, 0xA0, 0xE0], 2),
  ]

  @Test(arguments: invalidSamples.indices)
  func refusesInvalidTextAtTheFirstBadByte(_ index: Int) {
    let (name, bytes, badIndex) = Self.invalidSamples[index]
    #expect(!stdlibValid(bytes), "sample \(name) must itself be invalid")
    #expect(!isValid(bytes), "\(name)")
    var whole = UTF8Validator()
    #expect(!bytes.withUnsafeBytes { whole.feed($0) }, "\(name): feeding the whole buffer")
    #expect(firstRefusedByte(bytes).refusedAt == badIndex, "\(name): byte by byte")
  }

  static let truncatedSamples: [(String, [UInt8])] = [
    ("2-byte lead alone", [0xC3]),
    ("3-byte lead alone", [0xE2]),
    ("3-byte, one continuation", [0xE2, 0x82]),
    ("E0 A0", [0xE0, 0xA0]),
    ("ED 9F", [0xED, 0x9F]),
    ("4-byte lead alone", [0xF0]),
    ("4-byte, two continuations", [0xF0, 0x9F, 0x98]),
    ("F4 8F BF", [0xF4, 0x8F, 0xBF]),
    ("text then a cut scalar", Array("Hello €".utf8).dropLast(1)),
    ("ascii fast path then a cut scalar", Array("abcdefghijklmnop😀".utf8).dropLast(2)),
  ]

  @Test(arguments: truncatedSamples.indices)
  func truncatedSequenceIsAcceptedSoFarButIncomplete(_ index: Int) {
    let (name, bytes) = Self.truncatedSamples[index]
    var validator = UTF8Validator()
    #expect(bytes.withUnsafeBytes { validator.feed($0) }, "\(name): nothing invalid yet")
    #expect(!validator.isComplete, "\(name)")
    #expect(!isValid(bytes), "\(name)")
  }

  @Test func freshValidatorIsComplete() {
    #expect(UTF8Validator().isComplete)
    var validator = UTF8Validator()
    #expect([UInt8]().withUnsafeBytes { validator.feed($0) })
    #expect(validator.isComplete)
  }

  @Test func byteByByteMatchesWholeAndTracksScalarBoundaries() {
    let text = "aé€😀b κόσμε 𝄞 z"
    let bytes = Array(text.utf8)
    // Offsets (in bytes) at which a scalar ends.
    var boundaries: Set<Int> = [0]
    var offset = 0
    for scalar in text.unicodeScalars {
      offset += String(scalar).utf8.count
      boundaries.insert(offset)
    }
    var validator = UTF8Validator()
    for (i, byte) in bytes.enumerated() {
      #expect([byte].withUnsafeBytes { validator.feed($0) }, "byte \(i)")
      #expect(validator.isComplete == boundaries.contains(i + 1), "after byte \(i)")
    }
    #expect(validator.isComplete)
    #expect(isValid(bytes))
  }

  @Test func everyTwoWaySplitOfValidTextMatchesWhole() {
    let bytes = Array("ab😀é€x12345678€😀".utf8)
    for cut in 0...bytes.count {
      #expect(feedPieces(bytes, cuts: [cut]) == true, "cut at \(cut)")
    }
    // And every split of an invalid one is refused.
    let bad: [UInt8] = Array("ab😀é".utf8) + [0xED, 0xA0, 0x80] + Array("zz".utf8)
    for cut in 0...bad.count {
      #expect(feedPieces(bad, cuts: [cut]) == nil, "cut at \(cut)")
    }
  }

  /// Random bytes biased toward UTF-8 shapes (so both outcomes occur often), compared with the
  /// standard library's validation, whole and split at random points.
  @Test func agreesWithTheStandardLibraryOnRandomInput() {
    var rng = WireRNG(seed: 0x5EED_0F_0C7E7)
    let interesting: [UInt8] = [
      0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC,
      0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF7, 0xF8, 0xFE, 0xFF,
    ]
    var validCount = 0
    let cases = 30_000
    for n in 0..<cases {
      let length = Int.random(in: 0...40, using: &rng)
      var bytes: [UInt8]
      switch n % 3 {
      case 0:
        // Uniform random bytes.
        bytes = rng.bytes(length)
      case 1:
        // Boundary bytes only.
        bytes = (0..<length).map { _ in interesting.randomElement(using: &rng)! }
      default:
        // Valid text with a few bytes changed, inserted or removed.
        bytes = rng.utf8Text(length)
        for _ in 0..<Int.random(in: 0...2, using: &rng) where !bytes.isEmpty {
          let at = Int.random(in: 0..<bytes.count, using: &rng)
          switch Int.random(in: 0...2, using: &rng) {
          case 0: bytes[at] = interesting.randomElement(using: &rng)!
          case 1: bytes.insert(interesting.randomElement(using: &rng)!, at: at)
          default: bytes.remove(at: at)
          }
        }
      }
      let expected = stdlibValid(bytes)
      if expected { validCount += 1 }
      #expect(isValid(bytes) == expected, "input \(bytes.map { String($0, radix: 16) })")
      // Split at up to three random points.
      let cuts = (0..<Int.random(in: 1...3, using: &rng)).map { _ in Int.random(in: 0...bytes.count, using: &rng) }
        .sorted()
      let split = feedPieces(bytes, cuts: cuts)
      #expect((split == true) == expected, "input \(bytes.map { String($0, radix: 16) }) cut at \(cuts)")
      // Byte by byte: refused somewhere iff the stdlib finds an encoding error that is not
      // just a truncated final scalar.
      let single = firstRefusedByte(bytes)
      #expect(
        (single.refusedAt == nil && single.complete) == expected,
        "input \(bytes.map { String($0, radix: 16) }) byte by byte")
    }
    // The generator must exercise both outcomes substantially.
    #expect(validCount > cases / 10)
    #expect(validCount < cases * 9 / 10)
  }

  @Test func largeRandomValidTextInRandomPieces() {
    var rng = WireRNG(seed: 42)
    for _ in 0..<50 {
      let bytes = rng.utf8Text(Int.random(in: 0...5000, using: &rng))
      #expect(stdlibValid(bytes))
      let cuts = (0..<Int.random(in: 0...10, using: &rng)).map { _ in Int.random(in: 0...bytes.count, using: &rng) }
        .sorted()
      #expect(feedPieces(bytes, cuts: cuts) == true)
    }
  }
}
