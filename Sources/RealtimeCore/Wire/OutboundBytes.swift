/// Bytes on their way to one or many peers, written without copying: a frame meant for N
/// connections is encoded once into one of these, every connection's write queue holds a
/// reference to it, and its memory is freed when the last write completes. Immutable once built.
final class OutboundBytes: @unchecked Sendable {
  let base: UnsafeMutableRawPointer
  let count: Int

  /// Allocates `count` bytes and lets `fill` write all of them.
  init(count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
    self.count = count
    base = .allocate(byteCount: max(count, 1), alignment: 8)
    fill(UnsafeMutableRawBufferPointer(start: base, count: count))
  }

  /// Copies `bytes`.
  convenience init(_ bytes: [UInt8]) {
    self.init(count: bytes.count) { out in out.copyBytes(from: bytes) }
  }

  deinit { base.deallocate() }

  /// Runs `body` with the bytes; the pointer is valid only inside it. (A plain pointer property
  /// would let the object be freed while a caller still reads through it.)
  func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try withExtendedLifetime(self) { try body(UnsafeRawBufferPointer(start: base, count: count)) }
  }

  /// A copy of the bytes.
  var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}
