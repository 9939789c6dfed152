import CRealtimeHeader
import RealtimeCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// RT_KEY_BYTES bytes at `key`.
private func key(_ raw: UnsafePointer<UInt8>?, _ name: String) throws(RealtimeError) -> [UInt8] {
  guard let raw else { throw RealtimeError(.invalidArgument, "\(name) is NULL") }
  return Array(UnsafeBufferPointer(start: raw, count: Int(RT_KEY_BYTES)))
}

@c @implementation public func rt_key_add(
  _ coreHandle: OpaquePointer?, _ id: UInt32, _ raw: UnsafePointer<UInt8>?, _ length: Int
) -> rt_status {
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let material = try inputBytes(raw, length, "key")
    try core(coreHandle).keyring.add(id: id, key: Array(material))
  }
}

@c @implementation public func rt_key_use(_ coreHandle: OpaquePointer?, _ id: UInt32) -> rt_status {
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in try core(coreHandle).keyring.use(id: id) }
}

@c @implementation public func rt_key_remove(_ coreHandle: OpaquePointer?, _ id: UInt32) -> rt_status {
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in try core(coreHandle).keyring.remove(id: id) }
}

@c @implementation public func rt_key_load_file(_ coreHandle: OpaquePointer?, _ path: UnsafePointer<CChar>?)
  -> rt_status
{
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    try core(coreHandle).keyring.load(file: try text(path, "path"))
  }
}

@c @implementation public func rt_key_load_env(_ coreHandle: OpaquePointer?, _ name: UnsafePointer<CChar>?)
  -> rt_status
{
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    try core(coreHandle).keyring.load(environment: try text(name, "name"))
  }
}

/// The context's bytes, without a copy: a NUL-terminated name of at most `Sealer.maxName`.
private func contextBytes(_ context: UnsafePointer<CChar>?) throws(RealtimeError) -> UnsafeRawBufferPointer {
  guard let context else { throw RealtimeError(.invalidArgument, "context is NULL") }
  let length = strnlen(context, Sealer.maxName + 1)
  guard length <= Sealer.maxName else {
    throw RealtimeError(.invalidArgument, "context is over \(Sealer.maxName) bytes")
  }
  return UnsafeRawBufferPointer(start: context, count: length)
}

/// What rt_seal and rt_open share: the checks, a malloc'd result of `size(input)` bytes that
/// `body` fills in place (no copy), handed to *out only when `body` succeeds.
private func sealing(
  _ coreHandle: OpaquePointer?, _ context: UnsafePointer<CChar>?, _ ad: UnsafePointer<UInt8>?, _ adLength: Int,
  _ input: UnsafePointer<UInt8>?, _ length: Int, _ out: UnsafeMutablePointer<rt_bytes>?,
  size: (UnsafeRawBufferPointer) throws(RealtimeError) -> Int,
  _ body: (
    Keyring, UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer
  )
    throws(RealtimeError) -> Void
) -> rt_status {
  out?.pointee = rt_bytes(data: nil, len: 0)
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let out else { return fail(coreHandle, .invalidArgument, "out is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let name = try contextBytes(context)
    let extra = try inputBytes(ad, adLength, "ad")
    let source = try inputBytes(input, length, "input")
    let count = try size(source)
    // One byte more, NUL, as every rt_bytes the library returns.
    guard let data = malloc(count + 1)?.assumingMemoryBound(to: UInt8.self) else {
      throw RealtimeError(.noMemory, "no memory for \(count) bytes")
    }
    data[count] = 0
    do throws(RealtimeError) {
      try body(core(coreHandle).keyring, name, extra, source, UnsafeMutableRawBufferPointer(start: data, count: count))
    } catch {
      free(data)
      throw error
    }
    out.pointee = rt_bytes(data: data, len: count)
  }
}

/// Bytes `rt_seal` writes for `plaintext`.
private func sealedSize(_ plaintext: UnsafeRawBufferPointer) throws(RealtimeError) -> Int {
  guard plaintext.count <= Sealer.maxPlaintext else {
    throw RealtimeError(.tooLarge, "a payload of \(plaintext.count) bytes exceeds \(Sealer.maxPlaintext) to seal")
  }
  return plaintext.count + Sealer.overhead
}

/// `rt_seal`'s work: a host payload sealed for its context and associated data.
private func sealForHost(
  _ ring: Keyring, _ name: UnsafeRawBufferPointer, _ extra: UnsafeRawBufferPointer,
  _ plaintext: UnsafeRawBufferPointer, _ result: UnsafeMutableRawBufferPointer
) throws(RealtimeError) {
  try Sealer.seal(plaintext, purpose: .host, name: name, position: 0, extra: extra, keyring: ring, to: result)
}

/// `rt_open`'s work.
private func openForHost(
  _ ring: Keyring, _ name: UnsafeRawBufferPointer, _ extra: UnsafeRawBufferPointer,
  _ sealed: UnsafeRawBufferPointer, _ result: UnsafeMutableRawBufferPointer
) throws(RealtimeError) {
  try Sealer.open(sealed, purpose: .host, name: name, position: 0, extra: extra, keyring: ring, to: result)
}

@c @implementation public func rt_seal(
  _ coreHandle: OpaquePointer?, _ context: UnsafePointer<CChar>?, _ ad: UnsafePointer<UInt8>?, _ adLength: Int,
  _ message: UnsafePointer<UInt8>?, _ length: Int, _ out: UnsafeMutablePointer<rt_bytes>?
) -> rt_status {
  sealing(coreHandle, context, ad, adLength, message, length, out, size: sealedSize, sealForHost)
}

@c @implementation public func rt_open(
  _ coreHandle: OpaquePointer?, _ context: UnsafePointer<CChar>?, _ ad: UnsafePointer<UInt8>?, _ adLength: Int,
  _ sealed: UnsafePointer<UInt8>?, _ length: Int, _ out: UnsafeMutablePointer<rt_bytes>?
) -> rt_status {
  sealing(coreHandle, context, ad, adLength, sealed, length, out, size: Sealer.plaintextLength, openForHost)
}

/// What rt_seal_into and rt_open_into share: the checks, then `body` writing `size(input)`
/// bytes into the caller's buffer.
private func sealingInto(
  _ coreHandle: OpaquePointer?, _ context: UnsafePointer<CChar>?, _ ad: UnsafePointer<UInt8>?, _ adLength: Int,
  _ input: UnsafePointer<UInt8>?, _ length: Int, _ out: UnsafeMutablePointer<UInt8>?, _ capacity: Int,
  _ written: UnsafeMutablePointer<Int>?, size: (UnsafeRawBufferPointer) throws(RealtimeError) -> Int,
  _ body: (
    Keyring, UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer
  )
    throws(RealtimeError) -> Void
) -> rt_status {
  written?.pointee = 0
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let name = try contextBytes(context)
    let extra = try inputBytes(ad, adLength, "ad")
    let source = try inputBytes(input, length, "input")
    let count = try size(source)
    guard let out else { throw RealtimeError(.invalidArgument, "out is NULL") }
    guard UInt(bitPattern: capacity) >= UInt(count) else {
      throw RealtimeError(.tooLarge, "the output needs \(count) bytes; it has \(UInt(bitPattern: capacity))")
    }
    try body(core(coreHandle).keyring, name, extra, source, UnsafeMutableRawBufferPointer(start: out, count: count))
    written?.pointee = count
  }
}

@c @implementation public func rt_seal_into(
  _ coreHandle: OpaquePointer?, _ context: UnsafePointer<CChar>?, _ ad: UnsafePointer<UInt8>?, _ adLength: Int,
  _ message: UnsafePointer<UInt8>?, _ length: Int, _ out: UnsafeMutablePointer<UInt8>?, _ capacity: Int,
  _ written: UnsafeMutablePointer<Int>?
) -> rt_status {
  sealingInto(coreHandle, context, ad, adLength, message, length, out, capacity, written, size: sealedSize, sealForHost)
}

@c @implementation public func rt_open_into(
  _ coreHandle: OpaquePointer?, _ context: UnsafePointer<CChar>?, _ ad: UnsafePointer<UInt8>?, _ adLength: Int,
  _ sealed: UnsafePointer<UInt8>?, _ length: Int, _ out: UnsafeMutablePointer<UInt8>?, _ capacity: Int,
  _ written: UnsafeMutablePointer<Int>?
) -> rt_status {
  sealingInto(
    coreHandle, context, ad, adLength, sealed, length, out, capacity, written, size: Sealer.plaintextLength, openForHost
  )
}

@c @implementation public func rt_box_keypair(_ pk: UnsafeMutablePointer<UInt8>?, _ sk: UnsafeMutablePointer<UInt8>?)
  -> rt_status
{
  guard let pk, let sk else { return fail(nil, .invalidArgument, "pk and sk must not be NULL") }
  let pair = SealedBox.keyPair()
  pk.update(from: pair.publicKey, count: pair.publicKey.count)
  sk.update(from: pair.secretKey, count: pair.secretKey.count)
  return RT_OK
}

@c @implementation public func rt_box_seal(
  _ pk: UnsafePointer<UInt8>?, _ message: UnsafePointer<UInt8>?, _ length: Int, _ out: UnsafeMutablePointer<rt_bytes>?
) -> rt_status {
  out?.pointee = rt_bytes(data: nil, len: 0)
  guard let out else { return fail(nil, .invalidArgument, "out is NULL") }
  return status(nil) { () throws(RealtimeError) in
    let sealed = try SealedBox.seal(try inputBytes(message, length, "msg"), to: try key(pk, "pk"))
    try output(sealed, out)
  }
}

@c @implementation public func rt_box_open(
  _ pk: UnsafePointer<UInt8>?, _ sk: UnsafePointer<UInt8>?, _ sealed: UnsafePointer<UInt8>?, _ length: Int,
  _ out: UnsafeMutablePointer<rt_bytes>?
) -> rt_status {
  out?.pointee = rt_bytes(data: nil, len: 0)
  guard let out else { return fail(nil, .invalidArgument, "out is NULL") }
  return status(nil) { () throws(RealtimeError) in
    let message = try SealedBox.open(
      try inputBytes(sealed, length, "sealed"), publicKey: try key(pk, "pk"), secretKey: try key(sk, "sk"))
    try output(message, out)
  }
}

@c @implementation public func rt_store_reseal(_ coreHandle: OpaquePointer?, _ rows: UnsafeMutablePointer<UInt64>?)
  -> rt_status
{
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let count = try core(coreHandle).reseal()
    rows?.pointee = count
  }
}
