import Testing

@testable import RealtimeCore

/// Random envelopes through both writers and back through the readers.
@Suite struct EnvelopeWriterTests {
  @Test func writesCompactJSON() {
    var envelope = Envelope(.error, id: 3)
    envelope.code = ProtocolErrorCode.badRequest.rawValue
    envelope.message = "bad \"quote\"\n\u{1}"
    #expect(
      String(decoding: EnvelopeWriter.json(envelope), as: UTF8.self)
        == #"{"type":"error","id":3,"code":"bad_request","message":"bad \"quote\"\n\u0001"}"#)
    var goodbye = Envelope(.disconnect)
    goodbye.code = 4004
    goodbye.reconnect = true
    #expect(
      String(decoding: EnvelopeWriter.json(goodbye), as: UTF8.self)
        == #"{"type":"disconnect","code":4004,"reconnect":true}"#)
  }

  @Test func writesTheDocumentedBinaryLayout() {
    var pong = Envelope(.pong, id: 300)
    pong.data = [0, 255]
    #expect(EnvelopeWriter.binary(pong) == [1, 4, 0x08, 0xAC, 0x02, 0x2A, 2, 0, 255])
  }

  @Test(arguments: 0..<8)
  func roundTripsRandomEnvelopes(seed: UInt64) throws {
    var rng = WireRNG(seed: seed &* 0x1234_5678 &+ 1)
    for _ in 0..<300 {
      let envelope = randomEnvelope(&rng, jsonData: true)
      let json = EnvelopeWriter.json(envelope)
      #expect(try JSONEnvelopeReader.decode(json) == envelope, "\(String(decoding: json, as: UTF8.self))")
      let binary = randomEnvelope(&rng, jsonData: false)
      #expect(try BinaryEnvelopeReader.decode(EnvelopeWriter.binary(binary)) == binary)
    }
  }

  private func randomEnvelope(_ rng: inout WireRNG, jsonData: Bool) -> Envelope {
    var envelope = Envelope(MessageType.allCases.randomElement(using: &rng) ?? .ping)
    func maybe<T>(_ make: (inout WireRNG) -> T) -> T? { Bool.random(using: &rng) ? make(&rng) : nil }
    func number(_ rng: inout WireRNG) -> UInt64 { rng.next() >> UInt64.random(in: 0...63, using: &rng) }
    func text(_ rng: inout WireRNG) -> String {
      String(decoding: rng.utf8Text(Int.random(in: 0...40, using: &rng)), as: UTF8.self)
    }
    envelope.id = maybe(number)
    envelope.version = maybe(number)
    envelope.token = maybe(text)
    envelope.client = maybe { String(decoding: $0.utf8Text(Int.random(in: 0...20, using: &$0)), as: UTF8.self) }
    if Bool.random(using: &rng) {
      // A JSON null is an absent field, so a top-level null data would not come back.
      let json = randomJSON(&rng, depth: 0)
      envelope.data =
        jsonData
        ? ArraySlice((json == "null" ? "[null]" : json).utf8)
        : ArraySlice(rng.bytes(Int.random(in: 0...50, using: &rng)))
    }
    envelope.code = maybe {
      envelope.type == .error && Bool.random(using: &$0) ? UInt64.random(in: 1...12, using: &$0) : number(&$0)
    }
    envelope.message = maybe(text)
    envelope.reason = maybe(text)
    envelope.reconnect = maybe { Bool.random(using: &$0) }
    envelope.retryAfterMs = maybe(number)
    envelope.session = maybe(text)
    envelope.server = maybe(text)
    envelope.pingIntervalMs = maybe(number)
    envelope.maxMessageBytes = maybe(number)
    return envelope
  }

  private func randomJSON(_ rng: inout WireRNG, depth: Int) -> String {
    switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &rng) {
    case 0: return ["true", "false", "null"].randomElement(using: &rng) ?? "null"
    case 1: return ["0", "-1", "3.25", "1e9", "-0.5E-3", "12345678901234567890"].randomElement(using: &rng) ?? "0"
    case 2:
      var out: [UInt8] = []
      EnvelopeWriter.appendJSONString(
        String(decoding: rng.utf8Text(Int.random(in: 0...10, using: &rng)), as: UTF8.self), to: &out)
      return String(decoding: out, as: UTF8.self)
    case 3: return "\"\""
    case 4:
      let items = (0..<Int.random(in: 0...3, using: &rng)).map { _ in randomJSON(&rng, depth: depth + 1) }
      return "[" + items.joined(separator: ", ") + "]"
    default:
      let items = (0..<Int.random(in: 0...3, using: &rng)).map { i in "\"k\(i)\": " + randomJSON(&rng, depth: depth + 1)
      }
      return "{ " + items.joined(separator: ",") + " }"
    }
  }
}
