import CSodium

/// A chunk's identity: its 32-byte BLAKE2b hash (libsodium's `crypto_generichash`).
public struct ChunkHash: Hashable, Comparable, Sendable, CustomStringConvertible {
  public let bytes: [UInt8]

  /// The hash of `data`.
  public init(of data: UnsafeRawBufferPointer) {
    var out = [UInt8](repeating: 0, count: 32)
    _ = sodium_init()
    _ = crypto_generichash(&out, 32, data.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(data.count), nil, 0)
    bytes = out
  }

  /// A hash received from elsewhere; nil unless 32 bytes.
  public init?(raw: [UInt8]) {
    guard raw.count == 32 else { return nil }
    bytes = raw
  }

  public static func < (a: ChunkHash, b: ChunkHash) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

  /// The first 8 bytes in hex: enough to tell chunks apart in a message.
  public var description: String { String(hex.prefix(16)) }

  /// All 32 bytes as 64 lowercase hex digits (how the protocol names a chunk).
  public var hex: String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(64)
    for b in bytes {
      out.append(digits[Int(b >> 4)])
      out.append(digits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// The hash spelled as 64 hex digits (either case); nil for anything else.
  public init?(hex: some StringProtocol) {
    let digits = Array(hex.utf8)
    guard digits.count == 64 else { return nil }
    var out = [UInt8](repeating: 0, count: 32)
    for i in 0..<32 {
      guard let high = Self.nibble(digits[2 * i]), let low = Self.nibble(digits[2 * i + 1]) else { return nil }
      out[i] = high << 4 | low
    }
    bytes = out
  }

  private static func nibble(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
    default: nil
    }
  }
}

/// Content-defined chunking (FastCDC, Xia et al., with normalized chunking): chunk boundaries
/// depend on the bytes around them, not on their offsets, so an edit changes only the chunks
/// it touches and the rest of the file is recognised, stored once and not sent again. Chunks are
/// 2 KiB to 64 KiB, 8 KiB on average. The gear table and masks are part of the format: every
/// replica must cut the same file the same way.
public enum ContentChunker {
  public static let minSize = 2 << 10
  public static let averageSize = 8 << 10
  public static let maxSize = 64 << 10
  /// Harder before the average size, easier after (normalized chunking, level 2).
  static let maskSmall: UInt64 = 0x0000_d9f0_0353_0000
  static let maskLarge: UInt64 = 0x0000_d900_0353_0000

  /// 256 pseudo-random words from SplitMix64 seeded with a fixed constant: fixed forever.
  static let gear: [UInt64] = {
    var state: UInt64 = 0x5265_616c_7469_6d65  // "Realtime"
    return (0..<256).map { _ in
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
  }()

  /// The length of the chunk that starts `data`.
  static func cut(_ data: UnsafeRawBufferPointer) -> Int {
    let n = data.count
    if n <= minSize { return n }
    let end = min(n, maxSize)
    let middle = min(end, averageSize)
    var hash: UInt64 = 0
    var i = minSize
    let table = gear
    while i < middle {
      hash = (hash << 1) &+ table[Int(data[i])]
      if hash & maskSmall == 0 { return i + 1 }
      i += 1
    }
    while i < end {
      hash = (hash << 1) &+ table[Int(data[i])]
      if hash & maskLarge == 0 { return i + 1 }
      i += 1
    }
    return end
  }

  /// The lengths of `data`'s chunks, in order.
  public static func chunkLengths(_ data: UnsafeRawBufferPointer) -> [Int] {
    var lengths: [Int] = []
    var start = 0
    while start < data.count {
      let length = cut(UnsafeRawBufferPointer(rebasing: data[start...]))
      lengths.append(length)
      start += length
    }
    return lengths
  }
}

/// What a binary file is: its size and its chunks' hashes, in order.
public struct FileManifest: Equatable, Hashable, Sendable {
  public let size: UInt64
  public let chunks: [ChunkHash]

  public init(size: UInt64, chunks: [ChunkHash]) {
    self.size = size
    self.chunks = chunks
  }
}

/// Chunks by hash, each stored once however many files or versions hold it. Not thread-safe.
public final class ChunkStore {
  private var chunks: [ChunkHash: [UInt8]] = [:]

  public init() {}

  public var count: Int { chunks.count }
  public var storedBytes: Int { chunks.values.reduce(0) { $0 + $1.count } }

  public func contains(_ hash: ChunkHash) -> Bool { chunks[hash] != nil }

  /// Splits `data` into chunks, stores the new ones, and returns the file's manifest.
  public func add(_ data: [UInt8]) -> FileManifest {
    data.withUnsafeBytes { raw in
      var hashes: [ChunkHash] = []
      var start = 0
      for length in ContentChunker.chunkLengths(raw) {
        let piece = UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)])
        let hash = ChunkHash(of: piece)
        if chunks[hash] == nil { chunks[hash] = Array(piece) }
        hashes.append(hash)
        start += length
      }
      return FileManifest(size: UInt64(data.count), chunks: hashes)
    }
  }

  /// Takes a chunk received from another replica; refused unless its bytes have its hash.
  public func put(_ data: [UInt8], as hash: ChunkHash) throws(RealtimeError) {
    guard !data.isEmpty, data.count <= ContentChunker.maxSize else {
      throw RealtimeError(.tooLarge, "a chunk of \(data.count) bytes exceeds \(ContentChunker.maxSize)")
    }
    guard data.withUnsafeBytes({ ChunkHash(of: $0) }) == hash else {
      throw RealtimeError(.corrupt, "chunk \(hash) does not have its hash")
    }
    chunks[hash] = data
  }

  public func chunk(_ hash: ChunkHash) -> [UInt8]? { chunks[hash] }

  /// The manifest's chunks this store lacks, each once, in file order: what to ask a peer for.
  public func missing(_ manifest: FileManifest) -> [ChunkHash] {
    var seen: Set<ChunkHash> = []
    return manifest.chunks.filter { !contains($0) && seen.insert($0).inserted }
  }

  /// The file's bytes; `notFound` while chunks are missing, `corrupt` if the sizes disagree.
  public func assemble(_ manifest: FileManifest) throws(RealtimeError) -> [UInt8] {
    var out: [UInt8] = []
    for hash in manifest.chunks {
      guard let chunk = chunks[hash] else { throw RealtimeError(.notFound, "chunk \(hash) is missing") }
      guard UInt64(out.count + chunk.count) <= manifest.size else { break }
      out += chunk
    }
    guard UInt64(out.count) == manifest.size else {
      throw RealtimeError(.corrupt, "the chunks hold \(out.count) bytes, the manifest says \(manifest.size)")
    }
    return out
  }
}
