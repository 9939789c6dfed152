#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Master keys from a key file or an environment variable. The text is one key per line:
/// `ID:HEX` (a key id of 1 or more, then 64 hex digits), or a lone `HEX` for key 1. Blank lines
/// and lines starting with `#` are skipped. The highest id becomes current, so rotating is
/// appending a line with a new id.
extension Keyring {
  /// Largest key file read.
  static let maxKeyFileBytes = 64 << 10

  /// Adds the keys of the file at `path`. Throws `.io` when it cannot be read, `.forbidden` when
  /// others than its owner may read or write it (mode beyond 0600), `.invalidArgument` for text
  /// that is not keys as above; nothing is added then.
  public func load(file path: String) throws(RealtimeError) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw RealtimeError(.io, "key file '\(path)': \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw RealtimeError(.io, "key file '\(path)': cannot stat it") }
    guard info.st_mode & 0o077 == 0 else {
      throw RealtimeError(
        .forbidden,
        "key file '\(path)' may be read or written by others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it"
      )
    }
    var text: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      guard n >= 0 else { throw RealtimeError(.io, "key file '\(path)': \(String(cString: strerror(errno)))") }
      if n == 0 { break }
      text += buffer[0..<n]
      guard text.count <= Self.maxKeyFileBytes else {
        throw RealtimeError(.invalidArgument, "key file '\(path)' is over \(Self.maxKeyFileBytes) bytes")
      }
    }
    defer { for i in text.indices { text[i] = 0 } }
    try load(text: text, from: "key file '\(path)'")
  }

  /// Adds the keys in environment variable `name`. Throws `.notFound` when it is not set,
  /// otherwise as `load(file:)`.
  public func load(environment name: String) throws(RealtimeError) {
    guard let value = getenv(name) else { throw RealtimeError(.notFound, "environment variable \(name) is not set") }
    let length = strlen(value)
    try load(
      text: Array(
        UnsafeBufferPointer(start: UnsafeRawPointer(value).assumingMemoryBound(to: UInt8.self), count: length)),
      from: "environment variable \(name)")
  }

  /// Parses every line first, then adds the keys and makes the highest id current.
  func load(text: [UInt8], from origin: String) throws(RealtimeError) {
    var keys: [(UInt32, [UInt8])] = []
    var lineNumber = 0
    for line in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
      lineNumber += 1
      var trimmed = line[...]
      while let last = trimmed.last, last == 0x20 || last == 0x09 || last == 0x0D { trimmed = trimmed.dropLast() }
      while let first = trimmed.first, first == 0x20 || first == 0x09 { trimmed = trimmed.dropFirst() }
      if trimmed.isEmpty || trimmed.first == UInt8(ascii: "#") { continue }
      var id: UInt32 = 1
      var hex = trimmed
      if let colon = trimmed.firstIndex(of: UInt8(ascii: ":")) {
        guard let parsed = UInt32(String(decoding: trimmed[..<colon], as: UTF8.self)), parsed > 0 else {
          throw RealtimeError(.invalidArgument, "\(origin), line \(lineNumber): the key id must be 1 to 4294967295")
        }
        id = parsed
        hex = trimmed[trimmed.index(after: colon)...]
      }
      guard let key = Self.hexBytes(hex), key.count == SecretKey.count else {
        throw RealtimeError(.invalidArgument, "\(origin), line \(lineNumber): a key is 64 hex digits")
      }
      guard !keys.contains(where: { $0.0 == id }) else {
        throw RealtimeError(.invalidArgument, "\(origin), line \(lineNumber): key id \(id) appears twice")
      }
      keys.append((id, key))
    }
    guard let newest = keys.map(\.0).max() else { throw RealtimeError(.invalidArgument, "\(origin) holds no key") }
    for (id, key) in keys { try add(id: id, key: key) }
    try use(id: newest)
  }

  private static func hexBytes(_ text: ArraySlice<UInt8>) -> [UInt8]? {
    guard text.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    var high: UInt8?
    for c in text {
      let v: UInt8
      switch c {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
      default: return nil
      }
      if let h = high {
        out.append(h << 4 | v)
        high = nil
      } else {
        high = v
      }
    }
    return out
  }
}
