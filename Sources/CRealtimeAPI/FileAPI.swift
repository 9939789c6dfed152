import CRealtimeHeader
import RealtimeCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Reads `RT_CHUNK_HASH_BYTES` bytes at `raw` as a chunk hash.
private func chunkHash(_ raw: UnsafePointer<UInt8>?) throws(RealtimeError) -> ChunkHash {
  guard let raw else { throw RealtimeError(.invalidArgument, "hash is NULL") }
  guard let hash = ChunkHash(raw: Array(UnsafeBufferPointer(start: raw, count: Int(RT_CHUNK_HASH_BYTES)))) else {
    throw RealtimeError(.internal, "a chunk hash is \(RT_CHUNK_HASH_BYTES) bytes")
  }
  return hash
}

@c @implementation public func rt_doc_file_write(_ doc: OpaquePointer?, _ data: UnsafePointer<UInt8>?, _ length: Int)
  -> rt_status
{
  guard let doc else { return fail(nil, .invalidArgument, "doc is NULL") }
  let h = handle(doc)
  return status(h.corePointer) { () throws(RealtimeError) in
    try h.document.writeFile(try inputBytes(data, length, "data"))
  }
}

@c @implementation public func rt_doc_file_read(
  _ doc: OpaquePointer?, _ version: Int, _ out: UnsafeMutablePointer<rt_bytes>?
) -> rt_status {
  bytesOut(doc, out) { h throws(RealtimeError) in
    // size_t arrives as Int: past Int.max it is negative, and no such version exists.
    guard version >= 0 else { throw RealtimeError(.notFound, "there is no version \(UInt(bitPattern: version))") }
    return try h.document.readFile(version: version)
  }
}

@c @implementation public func rt_doc_file_versions(_ doc: OpaquePointer?, _ count: UnsafeMutablePointer<Int>?)
  -> rt_status
{
  guard let doc else { return fail(nil, .invalidArgument, "doc is NULL") }
  let h = handle(doc)
  guard let count else { return fail(h.corePointer, .invalidArgument, "count is NULL") }
  return status(h.corePointer) { () throws(RealtimeError) in
    count.pointee = try h.document.withFile { $0.versions.count }
  }
}

@c @implementation public func rt_doc_file_resolve(_ doc: OpaquePointer?, _ version: Int) -> rt_status {
  guard let doc else { return fail(nil, .invalidArgument, "doc is NULL") }
  let h = handle(doc)
  return status(h.corePointer) { () throws(RealtimeError) in
    guard version >= 0 else { throw RealtimeError(.notFound, "there is no version \(UInt(bitPattern: version))") }
    try h.document.withFile { file throws(RealtimeError) in try file.resolve(keeping: version) }
  }
}

@c @implementation public func rt_doc_file_missing(_ doc: OpaquePointer?, _ out: UnsafeMutablePointer<rt_bytes>?)
  -> rt_status
{
  let result = bytesOut(doc, out) { h throws(RealtimeError) in try h.document.missingChunks().flatMap(\.bytes) }
  // Documented as {NULL, 0} when nothing is missing, as rt_doc_commit without changes.
  if result == RT_OK, let out, out.pointee.len == 0 {
    free(out.pointee.data)
    out.pointee = rt_bytes(data: nil, len: 0)
  }
  return result
}

@c @implementation public func rt_chunk_get(
  _ coreHandle: OpaquePointer?, _ hash: UnsafePointer<UInt8>?, _ out: UnsafeMutablePointer<rt_bytes>?
) -> rt_status {
  out?.pointee = rt_bytes(data: nil, len: 0)
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let out else { return fail(coreHandle, .invalidArgument, "out is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let wanted = try chunkHash(hash)
    guard let data = try core(coreHandle).chunk(wanted) else {
      throw RealtimeError(.notFound, "chunk \(wanted.hex) is not stored here")
    }
    try output(data, out)
  }
}

@c @implementation public func rt_chunk_put(
  _ coreHandle: OpaquePointer?, _ hash: UnsafePointer<UInt8>?, _ data: UnsafePointer<UInt8>?, _ length: Int
) -> rt_status {
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let bytes = try inputBytes(data, length, "data")
    try core(coreHandle).putChunk(Array(bytes), as: try chunkHash(hash))
  }
}

@c @implementation public func rt_chunk_collect(
  _ coreHandle: OpaquePointer?, _ olderThanMs: UInt64, _ removed: UnsafeMutablePointer<UInt64>?
) -> rt_status {
  removed?.pointee = 0
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let count = try core(coreHandle).collectChunks(olderThanMs: olderThanMs)
    removed?.pointee = UInt64(count)
  }
}
