import Testing

@testable import RealtimeCore

private func fault(_ bytes: [UInt8], limits: EnvelopeLimits = EnvelopeLimits()) -> ProtocolFault? {
  do throws(ProtocolFault) {
    _ = try BinaryEnvelopeReader.decode(bytes, limits: limits)
    return nil
  } catch {
    return error
  }
}

@Suite struct BinaryEnvelopeReaderTests {
  @Test func decodesTheDocumentedLayout() throws {
    // format 1, type ping; id (1, varint) = 300; data (5, bytes) = [0, 255]; an unknown field 60
    // (varint) and 61 (bytes) are skipped.
    let bytes: [UInt8] = [1, 3, 0x08, 0xAC, 0x02, 0x2A, 2, 0, 255, 0xE0, 0x03, 7, 0xEA, 0x03, 1, 9]
    let envelope = try BinaryEnvelopeReader.decode(bytes)
    #expect(envelope.type == .ping)
    #expect(envelope.id == 300)
    #expect(envelope.data.map { Array($0) } == [0, 255])
  }

  @Test func refusesAnUnknownFormatOrType() {
    #expect(fault([2, 3])?.code == .unsupportedVersion)
    #expect(fault([1, 200])?.code == .unknownType)
    #expect(fault([])?.code == .badRequest)
    #expect(fault([1])?.code == .badRequest)
  }

  @Test(
    arguments: [
      // id with wire type 2
      [1, 3, 0x0A, 1, 0],
      // data with wire type 0
      [1, 3, 0x28, 1],
      // wire type 1 (64-bit) and 5 (32-bit) are not used
      [1, 3, 0x09, 0, 0, 0, 0, 0, 0, 0, 0], [1, 3, 0x0D, 0, 0, 0, 0],
      // a varint cut off, a key cut off
      [1, 3, 0x08, 0x80], [1, 3, 0x80],
      // an 11-byte varint and a 10-byte one past 2^64 - 1
      [1, 3, 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
      [1, 3, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02],
      // a length past the end; a huge length
      [1, 3, 0x2A, 5, 1, 2], [1, 3, 0x2A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
      // id twice
      [1, 3, 0x08, 1, 0x08, 2],
      // a token that is not UTF-8
      [1, 1, 0x1A, 2, 0xC3, 0x28],
      // reconnect must be 0 or 1
      [1, 6, 0x48, 2],
    ] as [[UInt8]])
  func refusesMalformedFields(_ bytes: [UInt8]) {
    #expect(fault(bytes)?.code == .badRequest, "\(bytes)")
  }

  @Test func theLargestVarintIsAccepted() throws {
    let bytes: [UInt8] = [1, 3, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
    #expect(try BinaryEnvelopeReader.decode(bytes).id == UInt64.max)
  }

  @Test func limitsStringFields() {
    let limits = EnvelopeLimits(maxTokenBytes: 2)
    #expect(fault([1, 1, 0x1A, 3, 65, 66, 67], limits: limits)?.code == .tooLarge)
    #expect(fault([1, 1, 0x1A, 2, 65, 66], limits: limits) == nil)
  }

  @Test func aFaultCarriesTheIdReadBeforeIt() {
    #expect(fault([1, 3, 0x08, 5, 0x2A, 9])?.id == 5)
  }
}
