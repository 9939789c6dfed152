import Testing

@testable import RealtimeCore

private let op = (
  continuation: TestFrame.opContinuation, text: TestFrame.opText, binary: TestFrame.opBinary,
  close: TestFrame.opClose, ping: TestFrame.opPing, pong: TestFrame.opPong
)

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Feeds `stream` in every 2-way split, and byte by byte, and checks each gives `expected`.
private func expectSameEventsForEverySplit(
  _ stream: [UInt8], _ expected: [WebSocketEvent], cuts: some Sequence<Int>, maxMessageBytes: Int = 1 << 20,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  for cut in cuts {
    let result = parseChunks([Array(stream[..<cut]), Array(stream[cut...])], maxMessageBytes: maxMessageBytes)
    #expect(result.error == nil, "cut at \(cut)", sourceLocation: sourceLocation)
    #expect(result.events == expected, "cut at \(cut)", sourceLocation: sourceLocation)
    if result.events != expected { return }
  }
  let single = parseByteByByte(stream, maxMessageBytes: maxMessageBytes)
  #expect(single.error == nil, "byte by byte", sourceLocation: sourceLocation)
  #expect(single.events == expected, "byte by byte", sourceLocation: sourceLocation)
}

/// Expects `chunks` to fail with `code` while the chunk at `index` is fed.
private func expectFailure(
  _ chunks: [[UInt8]], _ code: CloseCode, atChunk index: Int, maxMessageBytes: Int = 1 << 20, expectMasked: Bool = true,
  eventsBefore: [WebSocketEvent] = [], sourceLocation: SourceLocation = #_sourceLocation
) {
  let result = parseChunks(chunks, maxMessageBytes: maxMessageBytes, expectMasked: expectMasked)
  #expect(result.code == code, "error: \(String(describing: result.error))", sourceLocation: sourceLocation)
  #expect(result.failedChunk == index, sourceLocation: sourceLocation)
  #expect(result.events == eventsBefore, sourceLocation: sourceLocation)
}

/// Expects `frame` to fail with `code`, in one piece and byte by byte, no later than its byte at
/// `latestByte` (so before any payload byte when that is the header's last byte).
private func expectFrameFailure(
  _ frame: [UInt8], _ code: CloseCode, noLaterThanByte latestByte: Int, prefix: [[UInt8]] = [],
  maxMessageBytes: Int = 1 << 20, expectMasked: Bool = true, sourceLocation: SourceLocation = #_sourceLocation
) {
  let whole = parseChunks(prefix + [frame], maxMessageBytes: maxMessageBytes, expectMasked: expectMasked)
  #expect(whole.code == code, "in one piece: \(String(describing: whole.error))", sourceLocation: sourceLocation)
  #expect(whole.failedChunk == prefix.count, "in one piece", sourceLocation: sourceLocation)
  let single = parseChunks(prefix + frame.map { [$0] }, maxMessageBytes: maxMessageBytes, expectMasked: expectMasked)
  #expect(single.code == code, "byte by byte: \(String(describing: single.error))", sourceLocation: sourceLocation)
  if let failed = single.failedChunk {
    #expect(
      failed - prefix.count <= latestByte, "byte by byte: thrown at byte \(failed - prefix.count)",
      sourceLocation: sourceLocation)
  }
}

/// All ways to cut `count` bytes into 3 pieces (two cut points, possibly equal).
private func threeWayCuts(_ count: Int) -> [(Int, Int)] {
  (0...count).flatMap { a in (a...count).map { b in (a, b) } }
}

@Suite struct FrameParserTests {
  // MARK: - Well-formed frames

  /// The examples of RFC 6455 §5.7.
  @Test func rfcExamples() {
    let maskedHello: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
    #expect(parseFrames(maskedHello).events == [.text(bytes("Hello"))])
    #expect(TestFrame.client(op.text, bytes("Hello")) == maskedHello, "the test helper writes the RFC's bytes")

    let unmaskedHello: [UInt8] = [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F]
    #expect(parseFrames(unmaskedHello, expectMasked: false).events == [.text(bytes("Hello"))])

    let fragmented: [UInt8] = [0x01, 0x03, 0x48, 0x65, 0x6C, 0x80, 0x02, 0x6C, 0x6F]
    #expect(parseFrames(fragmented, expectMasked: false).events == [.text(bytes("Hello"))])

    let ping: [UInt8] = [0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F]
    #expect(parseFrames(ping, expectMasked: false).events == [.ping(bytes("Hello"))])

    let maskedPong: [UInt8] = [0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
    #expect(parseFrames(maskedPong).events == [.pong(bytes("Hello"))])

    let binary256 = [0x82, 0x7E, 0x01, 0x00] + [UInt8](repeating: 0xAB, count: 256)
    #expect(parseFrames(binary256, expectMasked: false).events == [.binary([UInt8](repeating: 0xAB, count: 256))])

    let binary64K = [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0] + [UInt8](repeating: 0xCD, count: 65536)
    #expect(parseFrames(binary64K, expectMasked: false).events == [.binary([UInt8](repeating: 0xCD, count: 65536))])
  }

  @Test func singleTextAndBinaryFrames() {
    let text = bytes("κόσμε — hello 😀")
    #expect(parseFrames(TestFrame.client(op.text, text)).events == [.text(text)])
    let binary: [UInt8] = [0x00, 0xFF, 0x80, 0xC0, 0xED, 0xA0, 0x80, 0x01]  // not UTF-8, and that is fine
    #expect(parseFrames(TestFrame.client(op.binary, binary)).events == [.binary(binary)])
    #expect(parseFrames(TestFrame.client(op.text, [])).events == [.text([])])
    #expect(parseFrames(TestFrame.client(op.binary, [])).events == [.binary([])])
    // Several frames in one read.
    let stream =
      TestFrame.client(op.text, text) + TestFrame.client(op.binary, binary) + TestFrame.client(op.text, bytes("x"))
    #expect(parseFrames(stream).events == [.text(text), .binary(binary), .text(bytes("x"))])
  }

  @Test(arguments: [0, 1, 7, 8, 9, 125, 126, 127, 1000, 65535, 65536, 65537, 200_000])
  func allThreeLengthEncodings(_ size: Int) {
    var rng = WireRNG(seed: UInt64(size))
    let payload = rng.bytes(size)
    let frame = TestFrame.client(op.binary, payload, mask: rng.bytes(4))
    let expectedHeader = size < 126 ? 6 : size <= 0xFFFF ? 8 : 14
    #expect(frame.count == expectedHeader + size)
    #expect(frame[1] & 0x7F == (size < 126 ? UInt8(size) : size <= 0xFFFF ? 126 : 127))
    #expect(parseFrames(frame).events == [.binary(payload)])
    // Header byte by byte, then the payload in one piece.
    let pieces = frame[..<expectedHeader].map { [$0] } + [Array(frame[expectedHeader...])]
    #expect(parseChunks(pieces).events == [.binary(payload)])
    let text = rng.utf8Text(size)
    #expect(parseFrames(TestFrame.client(op.text, text, mask: rng.bytes(4))).events == [.text(text)])
  }

  @Test func anyMaskKeyUnmasksCorrectly() {
    let payload = Array(0..<100).map { UInt8($0) }
    for mask: [UInt8] in [
      [0, 0, 0, 0], [0xFF, 0xFF, 0xFF, 0xFF], [1, 0, 0, 0], [0, 0, 0, 1], [0x12, 0x34, 0x56, 0x78],
    ] {
      let frame = TestFrame.client(op.binary, payload, mask: mask)
      #expect(parseFrames(frame).events == [.binary(payload)], "mask \(mask)")
      // Split at every offset within the key's period and across the 8-byte word path.
      for cut in 6..<frame.count {
        #expect(
          parseChunks([Array(frame[..<cut]), Array(frame[cut...])]).events == [.binary(payload)],
          "mask \(mask) cut \(cut)")
      }
    }
  }

  @Test func fragmentedMessages() {
    let stream =
      TestFrame.client(op.text, bytes("Hel"), fin: false, mask: [1, 2, 3, 4])
      + TestFrame.client(op.continuation, bytes("lo, "), fin: false, mask: [5, 6, 7, 8])
      + TestFrame.client(op.continuation, bytes("world"), mask: [9, 10, 11, 12])
      + TestFrame.client(op.binary, [1, 2], fin: false)
      + TestFrame.client(op.continuation, [3])
    #expect(parseFrames(stream).events == [.text(bytes("Hello, world")), .binary([1, 2, 3])])
  }

  @Test func emptyFragments() {
    let stream =
      TestFrame.client(op.text, [], fin: false)
      + TestFrame.client(op.continuation, [], fin: false)
      + TestFrame.client(op.continuation, bytes("abc"), fin: false)
      + TestFrame.client(op.continuation, [])
      + TestFrame.client(op.binary, [], fin: false)
      + TestFrame.client(op.continuation, [])
    #expect(parseFrames(stream).events == [.text(bytes("abc")), .binary([])])
  }

  /// A multi-byte character cut between fragments is fine: only the whole message must be
  /// valid UTF-8.
  @Test func textSplitInsideAMultiByteCharacterAcrossFragments() {
    let text = bytes("aé€😀z")
    for cut in 0...text.count {
      let stream =
        TestFrame.client(op.text, Array(text[..<cut]), fin: false)
        + TestFrame.client(op.continuation, Array(text[cut...]))
      let whole = parseFrames(stream)
      #expect(whole.error == nil, "cut at \(cut)")
      #expect(whole.events == [.text(text)], "cut at \(cut)")
      #expect(parseByteByByte(stream).events == [.text(text)], "cut at \(cut), byte by byte")
    }
    for (a, b) in threeWayCuts(text.count) {
      let stream =
        TestFrame.client(op.text, Array(text[..<a]), fin: false)
        + TestFrame.client(op.continuation, Array(text[a..<b]), fin: false, mask: [0xA, 0xB, 0xC, 0xD])
        + TestFrame.client(op.continuation, Array(text[b...]), mask: [0, 0, 0, 0])
      let result = parseFrames(stream)
      #expect(result.error == nil, "cuts \(a), \(b)")
      #expect(result.events == [.text(text)], "cuts \(a), \(b)")
    }
  }

  @Test func controlFramesBetweenFragments() {
    let stream =
      TestFrame.client(op.text, bytes("ab"), fin: false)
      + TestFrame.client(op.ping, bytes("p1"))
      + TestFrame.client(op.continuation, [0xE2], fin: false)  // "€" cut after its first byte
      + TestFrame.client(op.pong, [])
      + TestFrame.client(op.ping, [])
      + TestFrame.client(op.continuation, [0x82, 0xAC], fin: false)
      + TestFrame.client(op.close, TestFrame.closePayload(1000, bytes("bye")))
      + TestFrame.client(op.continuation, bytes("cd"))
      + TestFrame.client(op.pong, bytes("after"))
    let expected: [WebSocketEvent] = [
      .ping(bytes("p1")), .pong([]), .ping([]), .close(.normal, bytes("bye")), .text(bytes("ab€cd")),
      .pong(bytes("after")),
    ]
    #expect(parseFrames(stream).events == expected)
    expectSameEventsForEverySplit(stream, expected, cuts: 0...stream.count)
  }

  @Test func everySplitGivesTheSameEvents() {
    var rng = WireRNG(seed: 7)
    let binary = rng.bytes(130)
    let stream =
      TestFrame.client(op.text, bytes("Hel"), fin: false, mask: [0x11, 0x22, 0x33, 0x44])
      + TestFrame.client(op.ping, bytes("pi"), mask: [0xAA, 0xBB, 0xCC, 0xDD])
      + TestFrame.client(op.continuation, bytes("lo é€😀"), mask: [0x01, 0x00, 0xFF, 0x80])
      + TestFrame.client(op.binary, binary, mask: [0x9, 0x8, 0x7, 0x6])
      + TestFrame.client(op.pong, [], mask: [0, 0, 0, 0])
      + TestFrame.client(op.text, [])
      + TestFrame.client(op.close, TestFrame.closePayload(1000, bytes("bye")), mask: [0x55, 0x66, 0x77, 0x88])
    let expected: [WebSocketEvent] = [
      .ping(bytes("pi")), .text(bytes("Hello é€😀")), .binary(binary), .pong([]), .text([]),
      .close(.normal, bytes("bye")),
    ]
    #expect(parseFrames(stream).events == expected)
    expectSameEventsForEverySplit(stream, expected, cuts: 0...stream.count)
    // Random chunkings of up to 8 pieces.
    for _ in 0..<300 {
      let cuts = (0..<Int.random(in: 1...7, using: &rng)).map { _ in Int.random(in: 0...stream.count, using: &rng) }
        .sorted()
      let chunks = zip([0] + cuts, cuts + [stream.count]).map { Array(stream[$0..<$1]) }
      #expect(parseChunks(chunks).events == expected, "cuts \(cuts)")
    }
  }

  @Test func everySplitOfA64BitLengthFrame() {
    var rng = WireRNG(seed: 64)
    let payload = rng.bytes(65_536 + 3)
    let stream =
      TestFrame.client(op.binary, payload, mask: [0xDE, 0xAD, 0xBE, 0xEF]) + TestFrame.client(op.ping, bytes("x"))
    let expected: [WebSocketEvent] = [.binary(payload), .ping(bytes("x"))]
    let cuts =
      Array(0...40) + Array(stride(from: 41, to: stream.count - 40, by: 997))
      + Array((stream.count - 40)...stream.count)
    expectSameEventsForEverySplit(stream, expected, cuts: cuts)
  }

  // MARK: - Protocol errors (1002)

  @Test func unmaskedClientFrameIs1002() {
    expectFrameFailure(TestFrame.client(op.text, bytes("Hello"), mask: nil), .protocolError, noLaterThanByte: 1)
    expectFrameFailure(TestFrame.client(op.ping, [], mask: nil), .protocolError, noLaterThanByte: 1)
    expectFrameFailure(
      TestFrame.client(op.binary, [UInt8](repeating: 1, count: 300), mask: nil), .protocolError, noLaterThanByte: 1)
    // After a good frame, the error comes with the good frame's event delivered.
    expectFailure(
      [TestFrame.client(op.text, bytes("ok")), TestFrame.client(op.text, bytes("no"), mask: nil)], .protocolError,
      atChunk: 1,
      eventsBefore: [.text(bytes("ok"))])
  }

  @Test func maskedFrameToAServerSideParserIs1002() {
    expectFrameFailure(
      TestFrame.client(op.text, bytes("Hello")), .protocolError, noLaterThanByte: 1, expectMasked: false)
  }

  @Test(arguments: [4, 2, 1, 3, 5, 6, 7] as [UInt8])
  func reservedBitsAre1002(_ rsv: UInt8) {
    expectFrameFailure(TestFrame.client(op.text, bytes("Hello"), rsv: rsv), .protocolError, noLaterThanByte: 0)
    expectFrameFailure(TestFrame.client(op.ping, [], rsv: rsv), .protocolError, noLaterThanByte: 0)
    expectFrameFailure(
      TestFrame.client(op.continuation, bytes("x"), rsv: rsv), .protocolError, noLaterThanByte: 0,
      prefix: [TestFrame.client(op.binary, [1], fin: false)])
  }

  @Test(arguments: [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] as [UInt8])
  func reservedOpcodesAre1002(_ opcode: UInt8) {
    expectFrameFailure(TestFrame.client(opcode, bytes("x")), .protocolError, noLaterThanByte: 0)
    expectFrameFailure(TestFrame.client(opcode, []), .protocolError, noLaterThanByte: 0)
    expectFrameFailure(TestFrame.client(opcode, bytes("x"), fin: false), .protocolError, noLaterThanByte: 0)
  }

  @Test(arguments: [UInt64(1) << 63, (UInt64(1) << 63) + 5, UInt64.max])
  func sixtyFourBitLengthWithTheTopBitSetIs1002(_ length: UInt64) {
    let header = TestFrame.client(op.binary, [], length: .sixtyFour, declaredLength: length)
    #expect(header.count == 14)
    expectFrameFailure(header, .protocolError, noLaterThanByte: 13)
    expectFrameFailure(header, .protocolError, noLaterThanByte: 13, maxMessageBytes: Int.max)
  }

  @Test(arguments: [0, 1, 125])
  func nonMinimalSixteenBitLengthIs1002(_ size: Int) {
    let frame = TestFrame.client(op.binary, [UInt8](repeating: 7, count: size), length: .sixteen)
    expectFrameFailure(frame, .protocolError, noLaterThanByte: 7)
    let text = TestFrame.client(op.text, [UInt8](repeating: 0x61, count: size), length: .sixteen)
    expectFrameFailure(text, .protocolError, noLaterThanByte: 7)
  }

  @Test(arguments: [0, 125, 126, 65535])
  func nonMinimalSixtyFourBitLengthIs1002(_ size: Int) {
    let frame = TestFrame.client(op.binary, [UInt8](repeating: 7, count: size), length: .sixtyFour)
    expectFrameFailure(frame, .protocolError, noLaterThanByte: 13)
  }

  @Test func minimalLengthBoundariesAreAccepted() {
    for size in [125, 126, 65535, 65536] {
      let payload = [UInt8](repeating: 3, count: size)
      #expect(parseFrames(TestFrame.client(op.binary, payload)).events == [.binary(payload)], "size \(size)")
    }
    // 126 written in 16 bits and 65536 in 64 bits are the smallest non-7-bit / non-16-bit forms.
    let p126 = [UInt8](repeating: 1, count: 126)
    #expect(parseFrames(TestFrame.client(op.binary, p126, length: .sixteen)).events == [.binary(p126)])
    let p64K = [UInt8](repeating: 1, count: 65536)
    #expect(parseFrames(TestFrame.client(op.binary, p64K, length: .sixtyFour)).events == [.binary(p64K)])
  }

  @Test func controlFrameOver125BytesIs1002() {
    for opcode in [op.ping, op.pong, op.close] {
      var payload = [UInt8](repeating: 0x61, count: 126)
      if opcode == op.close { payload[0] = 0x03; payload[1] = 0xE8 }
      expectFrameFailure(TestFrame.client(opcode, payload), .protocolError, noLaterThanByte: 7)
      expectFrameFailure(TestFrame.client(opcode, payload + [0x61]), .protocolError, noLaterThanByte: 7)
      expectFrameFailure(
        TestFrame.client(opcode, [UInt8](repeating: 0x61, count: 65536)), .protocolError, noLaterThanByte: 13)
      // A short payload written with a longer length form is also over the 7-bit limit.
      expectFrameFailure(TestFrame.client(opcode, [], length: .sixteen), .protocolError, noLaterThanByte: 7)
    }
    // 125 is the largest allowed.
    let p125 = [UInt8](repeating: 0x62, count: 125)
    #expect(parseFrames(TestFrame.client(op.ping, p125)).events == [.ping(p125)])
    #expect(parseFrames(TestFrame.client(op.pong, p125)).events == [.pong(p125)])
    let reason = [UInt8](repeating: 0x62, count: 123)
    #expect(
      parseFrames(TestFrame.client(op.close, TestFrame.closePayload(1000, reason))).events == [.close(.normal, reason)])
  }

  @Test func fragmentedControlFrameIs1002() {
    for opcode in [op.ping, op.pong, op.close] {
      expectFrameFailure(TestFrame.client(opcode, [], fin: false), .protocolError, noLaterThanByte: 0)
      expectFrameFailure(TestFrame.client(opcode, [0x03, 0xE8], fin: false), .protocolError, noLaterThanByte: 0)
      // Also between the fragments of a data message.
      expectFrameFailure(
        TestFrame.client(opcode, [], fin: false), .protocolError, noLaterThanByte: 0,
        prefix: [TestFrame.client(op.text, bytes("a"), fin: false)])
    }
  }

  @Test func orphanContinuationIs1002() {
    expectFrameFailure(TestFrame.client(op.continuation, bytes("x")), .protocolError, noLaterThanByte: 0)
    expectFrameFailure(TestFrame.client(op.continuation, bytes("x"), fin: false), .protocolError, noLaterThanByte: 0)
    expectFrameFailure(TestFrame.client(op.continuation, []), .protocolError, noLaterThanByte: 0)
    // After a complete message there is nothing to continue.
    expectFailure(
      [TestFrame.client(op.text, bytes("done")), TestFrame.client(op.continuation, bytes("x"))], .protocolError,
      atChunk: 1,
      eventsBefore: [.text(bytes("done"))])
    expectFailure(
      [
        TestFrame.client(op.binary, [1], fin: false), TestFrame.client(op.continuation, [2]),
        TestFrame.client(op.continuation, [3]),
      ], .protocolError, atChunk: 2, eventsBefore: [.binary([1, 2])])
    // A control frame does not start a message.
    expectFailure(
      [TestFrame.client(op.ping, []), TestFrame.client(op.continuation, [3])], .protocolError, atChunk: 1,
      eventsBefore: [.ping([])])
  }

  @Test func newDataFrameInsideAFragmentedMessageIs1002() {
    for first in [op.text, op.binary] {
      for second in [op.text, op.binary] {
        expectFrameFailure(
          TestFrame.client(second, bytes("b")), .protocolError, noLaterThanByte: 0,
          prefix: [TestFrame.client(first, bytes("a"), fin: false)])
        expectFrameFailure(
          TestFrame.client(second, bytes("b"), fin: false), .protocolError, noLaterThanByte: 0,
          prefix: [
            TestFrame.client(first, bytes("a"), fin: false), TestFrame.client(op.continuation, bytes("c"), fin: false),
          ])
      }
    }
  }

  // MARK: - Invalid UTF-8 (1007)

  /// The error comes while the fragment holding the bad byte is fed, before the final fragment.
  @Test func invalidUTF8FailsFastInAFragment() {
    let chunks = [
      TestFrame.client(op.text, bytes("hello "), fin: false),
      TestFrame.client(op.continuation, bytes("ab") + [0xFF] + bytes("cd"), fin: false),
      TestFrame.client(op.continuation, bytes("end")),
    ]
    expectFailure(chunks, .invalidPayload, atChunk: 1)
    // And in the first fragment.
    expectFailure(
      [TestFrame.client(op.text, [0x61, 0xC0, 0x80], fin: false), TestFrame.client(op.continuation, bytes("end"))],
      .invalidPayload, atChunk: 0)
  }

  /// Byte by byte, the error comes exactly with the byte that cannot be valid.
  @Test(
    arguments: [
      (bytes("abc") + [0xC0, 0x80] + bytes("def"), 3),
      (bytes("abc") + [0xED, 0xA0, 0x80], 4),
      (bytes("abcdefghij") + [0xF4, 0x90, 0x80, 0x80], 11),
      ([0xE0, 0x9F, 0xBF], 1),
      ([0xF5], 0),
      (bytes("€") + [0x80], 3),
      (bytes("€") + [0xE2, 0x41], 4),
    ] as [([UInt8], Int)])
  func invalidUTF8FailsAtTheBadByte(_ payload: [UInt8], _ badIndex: Int) {
    let frame = TestFrame.client(op.text, payload)
    let headerLength = 6
    let result = parseByteByByte(frame)
    #expect(result.code == .invalidPayload)
    #expect(result.failedChunk == headerLength + badIndex)
    // Split as a fragmented message, fed frame by frame: the fragment with the bad byte throws.
    let chunks = [
      TestFrame.client(op.text, Array(payload[..<badIndex]), fin: false),
      TestFrame.client(op.continuation, Array(payload[badIndex...]), fin: false),
      TestFrame.client(op.continuation, []),
    ]
    expectFailure(chunks, .invalidPayload, atChunk: 1)
  }

  @Test func invalidUTF8SplitAcrossFragmentsIs1007() {
    let cases: [([UInt8], [UInt8])] = [
      ([0x61, 0xE2], [0x28, 0xA1]),  // lead then a non-continuation in the next fragment
      ([0xE2, 0x82], [0x41]),
      ([0xE0], [0x80, 0x80]),  // overlong, decided by the next fragment's first byte
      ([0xED], [0xA0, 0x80]),  // surrogate
      ([0xF4], [0x90, 0x80, 0x80]),  // above U+10FFFF
      ([0xF0, 0x9F], [0x98, 0xC3]),
    ]
    for (first, second) in cases {
      expectFailure(
        [
          TestFrame.client(op.text, first, fin: false), TestFrame.client(op.continuation, second, fin: false),
          TestFrame.client(op.continuation, []),
        ],
        .invalidPayload, atChunk: 1)
      // With a control frame in between, which does not disturb the validation.
      expectFailure(
        [
          TestFrame.client(op.text, first, fin: false), TestFrame.client(op.ping, [0xFF]),
          TestFrame.client(op.continuation, second),
        ], .invalidPayload, atChunk: 2, eventsBefore: [.ping([0xFF])])
    }
  }

  @Test func textEndingInsideASequenceIs1007() {
    for payload: [UInt8] in [
      [0xC3], bytes("a") + [0xE2, 0x82], [0xF0, 0x9F, 0x98], bytes("ok€") + [0xF4, 0x8F, 0xBF],
    ] {
      // A single frame: the error comes with its last byte.
      let frame = TestFrame.client(op.text, payload)
      expectFrameFailure(frame, .invalidPayload, noLaterThanByte: frame.count - 1)
      #expect(parseByteByByte(frame).failedChunk == frame.count - 1)
      // The final fragment of a fragmented message.
      expectFailure(
        [TestFrame.client(op.text, bytes("start"), fin: false), TestFrame.client(op.continuation, payload)],
        .invalidPayload,
        atChunk: 1)
      // An empty final fragment after a fragment that ended inside a sequence.
      expectFailure(
        [TestFrame.client(op.text, payload, fin: false), TestFrame.client(op.continuation, [])], .invalidPayload,
        atChunk: 1)
    }
  }

  // MARK: - Size limit (1009)

  @Test func messageOverTheLimitIsRefusedWhenItsHeaderArrives() {
    let limit = 1 << 20
    // The header alone is fed: no payload byte is needed to refuse.
    let header = Array(TestFrame.client(op.binary, [], declaredLength: UInt64(limit + 1)))
    #expect(header.count == 14)
    expectFailure([header], .messageTooBig, atChunk: 0)
    let textHeader = Array(TestFrame.client(op.text, [], declaredLength: UInt64(limit) * 4))
    expectFailure([textHeader], .messageTooBig, atChunk: 0)
    let hugeHeader = Array(TestFrame.client(op.binary, [], declaredLength: UInt64(1) << 62))
    expectFailure([hugeHeader], .messageTooBig, atChunk: 0)
    // Header byte by byte: refused by its last byte.
    let single = parseChunks(header.map { [$0] })
    #expect(single.code == .messageTooBig)
    #expect(single.failedChunk.map { $0 <= 13 } == true)
  }

  @Test func messageOfExactlyTheLimitIsAccepted() {
    let limit = 1 << 20
    let payload = [UInt8](repeating: 0x5A, count: limit)
    #expect(parseFrames(TestFrame.client(op.binary, payload)).events == [.binary(payload)])
    #expect(parseFrames(TestFrame.client(op.text, payload)).events == [.text(payload)])
    let half = Array(payload[..<(limit / 2)])
    let fragmented = TestFrame.client(op.binary, half, fin: false) + TestFrame.client(op.continuation, half)
    #expect(parseFrames(fragmented).events == [.binary(payload)])
  }

  @Test func messageOverTheLimitAcrossFragments() {
    let limit = 1 << 20
    let first = TestFrame.client(op.binary, [UInt8](repeating: 1, count: limit / 2), fin: false)
    let secondHeader = TestFrame.client(op.continuation, [], declaredLength: UInt64(limit / 2 + 1))
    expectFailure([first, secondHeader], .messageTooBig, atChunk: 1)
    // Many small fragments: the one that would cross the limit is refused by its header.
    let small = 100
    var chunks = [TestFrame.client(op.text, [UInt8](repeating: 0x61, count: 90), fin: false)]
    chunks.append(TestFrame.client(op.continuation, [UInt8](repeating: 0x62, count: 10), fin: false))
    chunks.append(TestFrame.client(op.continuation, [], fin: false))
    chunks.append(TestFrame.client(op.continuation, [], declaredLength: 1))  // header only
    expectFailure(chunks, .messageTooBig, atChunk: 3, maxMessageBytes: small)
    // Exactly at a small limit is fine; one byte more is not.
    #expect(
      parseFrames(TestFrame.client(op.text, bytes("0123456789")), maxMessageBytes: 10).events == [
        .text(bytes("0123456789"))
      ])
    expectFailure([TestFrame.client(op.text, bytes("0123456789A"))], .messageTooBig, atChunk: 0, maxMessageBytes: 10)
    let five = TestFrame.client(op.binary, [1, 2, 3, 4, 5], fin: false)
    #expect(
      parseFrames(five + TestFrame.client(op.continuation, [6, 7, 8, 9, 10]), maxMessageBytes: 10).events == [
        .binary(Array(1...10))
      ])
    expectFailure(
      [five, TestFrame.client(op.continuation, [6, 7, 8, 9, 10, 11])], .messageTooBig, atChunk: 1, maxMessageBytes: 10)
    // The limit is per message: the next message starts from zero.
    let two = TestFrame.client(op.binary, Array(1...10)) + TestFrame.client(op.binary, Array(1...10))
    #expect(parseFrames(two, maxMessageBytes: 10).events == [.binary(Array(1...10)), .binary(Array(1...10))])
  }

  // MARK: - Close frames

  @Test func emptyCloseHasNoCode() {
    #expect(parseFrames(TestFrame.client(op.close, [])).events == [.close(nil, [])])
  }

  @Test func oneByteClosePayloadIs1002() {
    expectFrameFailure(TestFrame.client(op.close, [0x03]), .protocolError, noLaterThanByte: 6)
  }

  @Test(arguments: [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] as [UInt16])
  func invalidCloseCodesAre1002(_ code: UInt16) {
    expectFrameFailure(TestFrame.client(op.close, TestFrame.closePayload(code)), .protocolError, noLaterThanByte: 7)
    expectFrameFailure(
      TestFrame.client(op.close, TestFrame.closePayload(code, bytes("why"))), .protocolError, noLaterThanByte: 10)
  }

  @Test(
    arguments: [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
      as [UInt16])
  func validCloseCodes(_ code: UInt16) {
    #expect(
      parseFrames(TestFrame.client(op.close, TestFrame.closePayload(code))).events == [
        .close(CloseCode(rawValue: code), [])
      ])
    let reason = bytes("going away — ✓")
    #expect(
      parseFrames(TestFrame.client(op.close, TestFrame.closePayload(code, reason))).events
        == [.close(CloseCode(rawValue: code), reason)])
  }

  @Test func closeReasonMustBeUTF8() {
    for reason: [UInt8] in [
      [0xFF], bytes("ok") + [0xC0, 0x80], [0xED, 0xA0, 0x80], Array(bytes("cut €").dropLast(1)),
    ] {
      expectFrameFailure(
        TestFrame.client(op.close, TestFrame.closePayload(1000, Array(reason))), .invalidPayload,
        noLaterThanByte: 8 + reason.count - 1)
    }
  }

  @Test func closeCodeConstants() {
    #expect(CloseCode.normal.rawValue == 1000)
    #expect(CloseCode.protocolError.rawValue == 1002)
    #expect(CloseCode.invalidPayload.rawValue == 1007)
    #expect(CloseCode.messageTooBig.rawValue == 1009)
    #expect(!CloseCode.noStatus.isValidOnTheWire)
  }

  // MARK: - Scale and randomized round trips

  /// One message of 1,000,000 one-byte fragments (7 MB of frames) parses into one message.
  @Test func aMillionOneByteFragments() {
    let count = 1_000_000
    let frameSize = 7
    var stream = [UInt8](repeating: 0, count: count * frameSize)
    var expected = [UInt8](repeating: 0, count: count)
    stream.withUnsafeMutableBufferPointer { out in
      expected.withUnsafeMutableBufferPointer { text in
        for i in 0..<count {
          let base = i * frameSize
          let opcode: UInt8 = i == 0 ? 0x1 : 0x0
          out[base] = (i == count - 1 ? 0x80 : 0) | opcode
          out[base + 1] = 0x81
          let mask = UInt8(truncatingIfNeeded: i &* 31 &+ 7)
          out[base + 2] = mask
          out[base + 3] = mask &+ 1
          out[base + 4] = mask &+ 2
          out[base + 5] = mask &+ 3
          let letter = UInt8(ascii: "a") + UInt8(i % 26)
          text[i] = letter
          out[base + 6] = letter ^ mask
        }
      }
    }
    var parser = FrameParser()
    var events: [WebSocketEvent] = []
    var failure: FrameError?
    var offset = 0
    while offset < stream.count, failure == nil {
      let end = min(offset + 65_536, stream.count)
      failure = stream.withUnsafeBytes { raw in
        do throws(FrameError) {
          try parser.feed(UnsafeRawBufferPointer(rebasing: raw[offset..<end])) { events.append($0) }
          return nil
        } catch {
          return error
        }
      }
      offset = end
    }
    #expect(failure == nil)
    #expect(events.count == 1)
    #expect(events.first == .text(expected))
  }

  /// Random text and binary messages of random sizes, randomly fragmented and masked, with
  /// control frames in between, fed in random chunk sizes, come back exactly.
  @Test(arguments: 0..<8)
  func randomMessagesRoundTrip(_ seed: Int) {
    var rng = WireRNG(seed: 0xF4A3_0000 + UInt64(seed))
    for round in 0..<15 {
      var stream: [UInt8] = []
      var expected: [WebSocketEvent] = []
      for _ in 0..<Int.random(in: 1...4, using: &rng) {
        let isText = Bool.random(using: &rng)
        let size: Int
        switch Int.random(in: 0..<10, using: &rng) {
        case 0..<4: size = Int.random(in: 0...200, using: &rng)
        case 4..<8: size = Int.random(in: 0...70_000, using: &rng)
        default: size = [0, 125, 126, 127, 65535, 65536, 65537, 70_000].randomElement(using: &rng)!
        }
        let payload = isText ? rng.utf8Text(size) : rng.bytes(size)
        let fragments = Int.random(in: 1...6, using: &rng)
        let cuts = (0..<(fragments - 1)).map { _ in Int.random(in: 0...size, using: &rng) }.sorted()
        let bounds = zip([0] + cuts, cuts + [size])
        for (k, (from, to)) in bounds.enumerated() {
          let opcode = k == 0 ? (isText ? TestFrame.opText : TestFrame.opBinary) : TestFrame.opContinuation
          stream += TestFrame.client(opcode, Array(payload[from..<to]), fin: k == fragments - 1, mask: rng.bytes(4))
          if k == fragments - 1 { expected.append(isText ? .text(payload) : .binary(payload)) }
          if Int.random(in: 0..<5, using: &rng) == 0 {
            let control = rng.bytes(Int.random(in: 0...125, using: &rng))
            let isPing = Bool.random(using: &rng)
            stream += TestFrame.client(isPing ? TestFrame.opPing : TestFrame.opPong, control, mask: rng.bytes(4))
            expected.append(isPing ? .ping(control) : .pong(control))
          }
        }
      }
      let maxChunk = [1, 16, 4096, 100_000].randomElement(using: &rng)!
      var ends: [Int] = []
      var at = 0
      while at < stream.count {
        at = min(at + Int.random(in: 1...maxChunk, using: &rng), stream.count)
        ends.append(at)
      }
      let result = parseStream(stream, endingAt: ends)
      #expect(result.error == nil, "seed \(seed) round \(round)")
      #expect(
        result.events == expected,
        "seed \(seed) round \(round): \(result.events.count) events, expected \(expected.count)")
      if result.error != nil || result.events != expected { return }
    }
  }
}
