import Testing

@testable import RealtimeCore

private func decode(_ text: String, limits: EnvelopeLimits = EnvelopeLimits()) throws(ProtocolFault) -> Envelope {
  try JSONEnvelopeReader.decode(Array(text.utf8), limits: limits)
}

private func fault(_ text: String, limits: EnvelopeLimits = EnvelopeLimits()) -> ProtocolFault? {
  do throws(ProtocolFault) {
    _ = try decode(text, limits: limits)
    return nil
  } catch {
    return error
  }
}

@Suite struct JSONEnvelopeReaderTests {
  @Test func decodesEveryFieldInAnyOrderWithSpaces() throws {
    let envelope = try decode(
      #" { "token" : "t\u00e9\n\ud83d\ude00" , "type":"connect","id":18446744073709551615, "v":1,"client":"web/1"} "#)
    #expect(envelope.type == .connect)
    #expect(envelope.id == UInt64.max)
    #expect(envelope.version == 1)
    #expect(envelope.token == "té\n😀")
    #expect(envelope.client == "web/1")
    #expect(envelope.data == nil)
  }

  @Test func keepsDataAsTheRawValueItCameAs() throws {
    let raw = #"{ "a" : [1, -2.5e+3, {"b":null}, "x\"y", true] }"#
    let envelope = try decode(#"{"type":"ping","data":"# + raw + #","id":7}"#)
    #expect(envelope.data.map { Array($0) } == Array(raw.utf8))
    #expect(try decode(#"{"type":"ping","data":"plain"}"#).data.map { Array($0) } == Array(#""plain""#.utf8))
    #expect(try decode(#"{"type":"ping","data":0}"#).data.map { Array($0) } == [0x30])
  }

  @Test func nullFieldsAreAbsentAndUnknownKeysAreSkipped() throws {
    let envelope = try decode(#"{"type":"ping","id":null,"future":{"deep":[1,{"x":"y"}]},"data":null}"#)
    #expect(envelope.id == nil && envelope.data == nil)
  }

  @Test func errorCodesAreNamesInJSON() throws {
    #expect(try decode(#"{"type":"error","code":"rate_limited"}"#).code == ProtocolErrorCode.rateLimited.rawValue)
    #expect(try decode(#"{"type":"error","code":9}"#).code == 9)
    #expect(fault(#"{"type":"error","code":"nope"}"#)?.code == .badRequest)
  }

  @Test(arguments: [
    "", "   ", "[]", "\"ping\"", "{", "{\"type\":\"ping\"", "{\"type\":\"ping\",}", "{\"type\" \"ping\"}",
    "{\"type\":\"ping\"} x", "{\"type\":\"ping\"}{}", "{type:\"ping\"}", "{\"type\":ping}",
    "{\"type\":\"ping\",\"id\":-1}", "{\"type\":\"ping\",\"id\":1.5}", "{\"type\":\"ping\",\"id\":1e3}",
    "{\"type\":\"ping\",\"id\":01}", "{\"type\":\"ping\",\"id\":18446744073709551616}",
    "{\"type\":\"ping\",\"id\":\"1\"}", "{\"type\":\"ping\",\"id\":1,\"id\":2}",
    "{\"type\":\"ping\",\"type\":\"ping\"}", "{\"type\":\"connect\",\"token\":\"a\\x\"}",
    "{\"type\":\"connect\",\"token\":\"\\ud800\"}", "{\"type\":\"connect\",\"token\":\"\\udc00\\ud800\"}",
    "{\"type\":\"connect\",\"token\":\"\\u12\"}", "{\"type\":\"connect\",\"token\":\"a\tb\"}",
    "{\"type\":\"connect\",\"token\":5}", "{\"type\":\"ping\",\"data\":tru}", "{\"type\":\"ping\",\"data\":[1,]}",
    "{\"type\":\"ping\",\"data\":{\"a\"}}", "{\"type\":\"ping\",\"data\":-}", "{\"type\":\"ping\",\"data\":1.}",
    "{\"type\":\"ping\",\"data\":1e}", "{\"type\":\"ping\",\"data\":01}", "{\"type\":\"ping\",\"data\":.5}",
    "{\"type\":\"disconnect\",\"reconnect\":1}", "{\"id\":1}",
  ])
  func refusesMalformedMessages(_ text: String) {
    let error = fault(text)
    #expect(error?.code == .badRequest, "\(text) gave \(String(describing: error))")
  }

  @Test func anUnknownTypeIsItsOwnErrorAndKeepsTheId() {
    let error = fault(#"{"id":4,"type":"teleport"}"#)
    #expect(error?.code == .unknownType)
    #expect(error?.id == 4)
    #expect(error?.message.contains("teleport") == true)
  }

  @Test func aFaultCarriesTheIdWhenItCameFirst() {
    #expect(fault(#"{"id":9,"type":"ping","data":[}"#)?.id == 9)
    #expect(fault(#"{"type":"ping","data":[,"id":9}"#)?.id == nil)
  }

  @Test func limitsNestingAndFieldSizes() {
    let limits = EnvelopeLimits(maxTokenBytes: 8, maxClientBytes: 4, maxDepth: 3)
    #expect((try? decode(#"{"type":"ping","data":[[[]]]}"#, limits: limits)) != nil)
    #expect(fault(#"{"type":"ping","data":[[[[]]]]}"#, limits: limits)?.code == .tooLarge)
    #expect(fault(#"{"type":"ping","x":{"a":{"b":{"c":1}}}}"#, limits: limits)?.code == .tooLarge)
    #expect(fault(#"{"type":"connect","token":"123456789"}"#, limits: limits)?.code == .tooLarge)
    #expect(fault(#"{"type":"connect","client":"abcde"}"#, limits: limits)?.code == .tooLarge)
    // A hostile depth far beyond the limit is refused without deep recursion.
    let deep = #"{"type":"ping","data":"# + String(repeating: "[", count: 100_000) + "}"
    #expect(fault(deep)?.code == .tooLarge)
  }

  @Test func everyProperPrefixOfAMessageIsRefused() {
    let text = #"{"type":"connect","id":12,"v":1,"token":"a\u0041b","data":{"k":[1.5e-3,true,null]}}"#
    let bytes = Array(text.utf8)
    for cut in 0..<bytes.count {
      do throws(ProtocolFault) {
        _ = try JSONEnvelopeReader.decode(Array(bytes[0..<cut]))
        Issue.record("the prefix of \(cut) bytes was accepted")
      } catch {
        #expect(error.code == .badRequest)
      }
    }
  }
}
