/// Channel names: 1 to 255 bytes of ASCII letters, digits and `_ - . : @ / = + ~ !`. The part
/// before the first `:` is the namespace (`chat:room-1` is in `chat`, `lobby` in the default
/// namespace `""`), which decides the channel's options.
enum ChannelName {
  static let maxBytes = 255

  /// The namespace of `name`, after checking the name's syntax.
  static func namespace(of name: String) throws(RealtimeError) -> Substring {
    let bytes = name.utf8
    guard !bytes.isEmpty, bytes.count <= maxBytes else {
      throw RealtimeError(.invalidArgument, "a channel name must be 1 to \(maxBytes) bytes")
    }
    for byte in bytes where !isAllowed(byte) {
      throw RealtimeError(
        .invalidArgument,
        "channel names may hold only ASCII letters, digits and _ - . : @ / = + ~ ! (found byte \(byte))")
    }
    guard let colon = name.firstIndex(of: ":") else { return "" }
    return name[..<colon]
  }

  private static func isAllowed(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"):
      true
    case UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "@"),
      UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "~"), UInt8(ascii: "!"):
      true
    default: false
    }
  }

  /// Whether `name` may name a namespace: 0 to 64 bytes of lowercase letters, digits, `_`, `-`.
  static func isValidNamespace(_ name: String) -> Bool {
    name.utf8.count <= 64
      && name.utf8.allSatisfy {
        ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
          || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
      }
  }
}
