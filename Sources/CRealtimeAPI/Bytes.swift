import CRealtimeHeader
import RealtimeCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Frees a library-allocated buffer and empties it; safe on NULL and on an empty buffer.
@c @implementation public func rt_bytes_free(_ bytes: UnsafeMutablePointer<rt_bytes>?) {
  guard let bytes else { return }
  free(bytes.pointee.data)
  bytes.pointee = rt_bytes(data: nil, len: 0)
}

/// Copies `text` into a malloc'd buffer (NUL-terminated beyond `len`, for C's convenience).
func makeBytes(_ text: String) -> rt_bytes? {
  var text = text
  return text.withUTF8 { utf8 -> rt_bytes? in
    guard let data = malloc(utf8.count + 1)?.assumingMemoryBound(to: UInt8.self) else { return nil }
    if let base = utf8.baseAddress { data.update(from: base, count: utf8.count) }
    data[utf8.count] = 0
    return rt_bytes(data: data, len: utf8.count)
  }
}

/// The caller's `len` bytes at `data`: NULL only with 0, and a size_t past Int.max (negative
/// here) refused.
func inputBytes(_ data: UnsafePointer<UInt8>?, _ length: Int, _ name: String) throws(RealtimeError)
  -> UnsafeRawBufferPointer
{
  guard length >= 0 else {
    throw RealtimeError(.invalidArgument, "\(name) length \(UInt(bitPattern: length)) is too large")
  }
  guard length > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
  guard let data else { throw RealtimeError(.invalidArgument, "\(name) is NULL") }
  return UnsafeRawBufferPointer(start: data, count: length)
}
