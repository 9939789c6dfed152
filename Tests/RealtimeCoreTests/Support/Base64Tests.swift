import Testing

@testable import RealtimeCore

/// Standard base64 as the protocol's `data_b64` and the handshake read it: canonical text only.
@Suite struct Base64Tests {
  @Test func roundTripsAndRefusesWhatIsNotBase64() {
    for n in 0..<40 {
      let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
      #expect(Base64.decode(Base64.encode(bytes)) == bytes)
    }
    #expect(Base64.decode(Array("QUJD".utf8)) == Array("ABC".utf8))
    // Bytes from 0x80 up are not base64, though libsodium alone reads them as '/'.
    #expect(Base64.decode([0x51, 0x55, 0xC3, 0xA9]) == nil)
    #expect(Base64.decode([0x51, 0x55, 0xFF, 0x44]) == nil)
    #expect(Base64.decode(Array("QU-_".utf8)) == nil, "URL-safe characters are another variant")
    #expect(Base64.decode(Array("QUJ".utf8)) == nil)
    #expect(Base64.decode(Array("QU D".utf8)) == nil)
  }
}
