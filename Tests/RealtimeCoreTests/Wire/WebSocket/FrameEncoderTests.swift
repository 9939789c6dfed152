import Testing

@testable import RealtimeCore

@Suite struct FrameEncoderTests {
  @Test(
    arguments: [
      (0, [0x82, 0x00] as [UInt8]),
      (1, [0x82, 0x01]),
      (125, [0x82, 0x7D]),
      (126, [0x82, 0x7E, 0x00, 0x7E]),
      (127, [0x82, 0x7E, 0x00, 0x7F]),
      (256, [0x82, 0x7E, 0x01, 0x00]),
      (65535, [0x82, 0x7E, 0xFF, 0xFF]),
      (65536, [0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]),
      (70_000, [0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70]),
    ] as [(Int, [UInt8])])
  func headerBytes(_ length: Int, _ header: [UInt8]) {
    let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    let frame = FrameEncoder.frame(.binary, payload)
    #expect(Array(frame.prefix(header.count)) == header)
    #expect(frame.count == header.count + length)
    #expect(Array(frame.dropFirst(header.count)) == payload)
    #expect(FrameEncoder.headerLength(payload: length) == header.count)
  }

  @Test func opcodesAndFinBit() {
    // RFC 6455 §5.7.
    #expect(FrameEncoder.frame(.text, Array("Hello".utf8)) == [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
    #expect(FrameEncoder.frame(.binary, []) == [0x82, 0x00])
    #expect(FrameEncoder.frame(.close, []) == [0x88, 0x00])
    #expect(FrameEncoder.frame(.ping, Array("Hello".utf8)) == [0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
    #expect(FrameEncoder.frame(.pong, [1]) == [0x8A, 0x01, 0x01])
  }

  @Test func appendKeepsWhatIsAlreadyInTheBuffer() {
    var out: [UInt8] = [0xAA, 0xBB]
    ([1, 2, 3] as [UInt8]).withUnsafeBytes { FrameEncoder.append(.binary, $0, to: &out) }
    Array("hi".utf8).withUnsafeBytes { FrameEncoder.append(.text, $0, to: &out) }
    #expect(out == [0xAA, 0xBB, 0x82, 0x03, 1, 2, 3, 0x81, 0x02, 0x68, 0x69])
  }

  @Test func roundTripThroughAServerSideParser() {
    var rng = WireRNG(seed: 99)
    var stream: [UInt8] = []
    var expected: [WebSocketEvent] = []
    for size in [0, 1, 125, 126, 127, 65535, 65536, 100_000] {
      let binary = rng.bytes(size)
      stream += FrameEncoder.frame(.binary, binary)
      expected.append(.binary(binary))
      let text = rng.utf8Text(size)
      stream += FrameEncoder.frame(.text, text)
      expected.append(.text(text))
    }
    for size in [0, 1, 125] {
      let control = rng.bytes(size)
      stream += FrameEncoder.frame(.ping, control) + FrameEncoder.frame(.pong, control)
      expected += [.ping(control), .pong(control)]
    }
    stream += FrameEncoder.close(.goingAway, reason: "bye")
    expected.append(.close(.goingAway, Array("bye".utf8)))
    stream += FrameEncoder.frame(.close, [])
    expected.append(.close(nil, []))

    let whole = parseFrames(stream, expectMasked: false)
    #expect(whole.error == nil)
    #expect(whole.events == expected)
    var chunks: [[UInt8]] = []
    var at = 0
    while at < stream.count {
      let end = min(at + Int.random(in: 1...3000, using: &rng), stream.count)
      chunks.append(Array(stream[at..<end]))
      at = end
    }
    #expect(parseChunks(chunks, expectMasked: false).events == expected)
    // A client-side expectation of masking refuses them.
    #expect(parseFrames(FrameEncoder.frame(.text, [0x61])).code == .protocolError)
  }

  @Test func closeWithoutReason() {
    #expect(FrameEncoder.close(.normal) == [0x88, 0x02, 0x03, 0xE8])
    #expect(FrameEncoder.close(CloseCode(rawValue: 4999)) == [0x88, 0x02, 0x13, 0x87])
    #expect(FrameEncoder.close(.messageTooBig, reason: "too big") == [0x88, 0x09, 0x03, 0xF1] + Array("too big".utf8))
  }

  @Test(
    arguments: [
      // (reason, expected reason bytes after the cut)
      (String(repeating: "a", count: 123), 123),
      (String(repeating: "a", count: 124), 123),
      (String(repeating: "a", count: 500), 123),
      (String(repeating: "é", count: 100), 122),  // 2-byte scalars: 61 fit
      (String(repeating: "€", count: 60), 123),  // 3-byte scalars: exactly 41 fit
      ("a" + String(repeating: "€", count: 60), 121),  // 1 + 40 × 3; the 41st would end at 124
      (String(repeating: "😀", count: 40), 120),  // 4-byte scalars: 30 fit
      ("ab" + String(repeating: "😀", count: 40), 122),
      ("abc" + String(repeating: "😀", count: 40), 123),
      ("abcd" + String(repeating: "😀", count: 40), 120),
    ] as [(String, Int)])
  func closeCutsALongReasonAtAScalarBoundary(_ reason: String, _ expectedCount: Int) {
    let frame = FrameEncoder.close(.policyViolation, reason: reason)
    #expect(frame[0] == 0x88)
    let payloadLength = Int(frame[1])
    #expect(payloadLength <= 125)
    #expect(frame.count == 2 + payloadLength)
    #expect(Array(frame[2..<4]) == [0x03, 0xF0])
    let cut = Array(frame[4...])
    #expect(cut.count == expectedCount)
    #expect(cut.count <= 123)
    #expect(String(validating: cut, as: UTF8.self) != nil)
    #expect(Array(reason.utf8).starts(with: cut))
    // And the peer's parser takes it.
    #expect(parseFrames(frame, expectMasked: false).events == [.close(.policyViolation, cut)])
  }

  @Test(arguments: [0, 1, 125, 126, 65535, 65536, 70000])
  func theSharedEncodingMatchesTheArrayEncoding(length: Int) {
    let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    for opcode in [Opcode.text, .binary, .ping] where !(opcode.isControl && length > 125) {
      let shared = payload.withUnsafeBytes { FrameEncoder.encoded(opcode, $0) }
      #expect(shared.bytes == FrameEncoder.frame(opcode, payload))
    }
  }
}
