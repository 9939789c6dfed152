import CSodium

/// Standard base64 (RFC 4648 §4, with padding), from libsodium.
enum Base64 {
  static func encode(_ bytes: some Collection<UInt8>) -> [UInt8] {
    let input = Array(bytes)
    let variant = Int32(sodium_base64_VARIANT_ORIGINAL)
    var out = [CChar](repeating: 0, count: sodium_base64_encoded_len(input.count, variant))
    input.withUnsafeBufferPointer { source in
      out.withUnsafeMutableBufferPointer { target in
        guard let text = target.baseAddress else { return }
        _ = sodium_bin2base64(text, target.count, source.baseAddress, source.count, variant)
      }
    }
    // Drop the terminating NUL.
    return out.dropLast().map { UInt8(bitPattern: $0) }
  }

  /// The decoded bytes, or nil unless `text` is canonical padded base64 with nothing else in it.
  static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
    let input = Array(text)
    guard !input.isEmpty else { return [] }
    guard input.count % 4 == 0 else { return nil }
    // libsodium 1.0.18 decodes every byte from 0x80 up as '/', so "QU\u{e9}" (C3 A9) would pass
    // for "QU//": only the alphabet goes through.
    for c in input {
      guard
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2B || c == 0x2F
          || c == 0x3D
      else { return nil }
    }
    var out = [UInt8](repeating: 0, count: input.count / 4 * 3)
    var length = 0
    let complete = input.withUnsafeBufferPointer { source -> Bool in
      source.withMemoryRebound(to: CChar.self) { chars -> Bool in
        out.withUnsafeMutableBufferPointer { target -> Bool in
          guard let start = chars.baseAddress, let bin = target.baseAddress else { return false }
          var end: UnsafePointer<CChar>?
          let rc = sodium_base642bin(
            bin, target.count, start, chars.count, nil, &length, &end,
            Int32(sodium_base64_VARIANT_ORIGINAL))
          // Every character must be consumed: sodium stops quietly at the first one it rejects.
          return rc == 0 && end == start + chars.count
        }
      }
    }
    guard complete, length <= out.count else { return nil }
    out.removeLast(out.count - length)
    return out
  }
}
