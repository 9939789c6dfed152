import CRealtimeHeader
import RealtimeCore

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

/// What rt_seal and rt_open share: the checks, then `body` with the context's bytes, the
/// associated data and the input, its result copied to *out.
private func sealing(
  _ coreHandle: OpaquePointer?, _ context: UnsafePointer<CChar>?, _ ad: UnsafePointer<UInt8>?, _ adLength: Int,
  _ input: UnsafePointer<UInt8>?, _ length: Int, _ out: UnsafeMutablePointer<rt_bytes>?,
  _ body: (Keyring, [UInt8], UnsafeRawBufferPointer, UnsafeRawBufferPointer, inout [UInt8]) throws(RealtimeError)
    -> Void
) -> rt_status {
  out?.pointee = rt_bytes(data: nil, len: 0)
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let out else { return fail(coreHandle, .invalidArgument, "out is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let name = Array(try text(context, "context").utf8)
    var result: [UInt8] = []
    try body(
      core(coreHandle).keyring, name, try inputBytes(ad, adLength, "ad"), try inputBytes(input, length, "input"),
      &result)
    try output(result, out)
  }
}

@c @implementation public func rt_seal(
  _ coreHandle: OpaquePointer?, _ context: UnsafePointer<CChar>?, _ ad: UnsafePointer<UInt8>?, _ adLength: Int,
  _ message: UnsafePointer<UInt8>?, _ length: Int, _ out: UnsafeMutablePointer<rt_bytes>?
) -> rt_status {
  sealing(coreHandle, context, ad, adLength, message, length, out) {
    ring, name, extra, plaintext, result throws(RealtimeError) in
    try Sealer.seal(plaintext, purpose: .host, name: name, extra: extra, keyring: ring, into: &result)
  }
}

@c @implementation public func rt_open(
  _ coreHandle: OpaquePointer?, _ context: UnsafePointer<CChar>?, _ ad: UnsafePointer<UInt8>?, _ adLength: Int,
  _ sealed: UnsafePointer<UInt8>?, _ length: Int, _ out: UnsafeMutablePointer<rt_bytes>?
) -> rt_status {
  sealing(coreHandle, context, ad, adLength, sealed, length, out) {
    ring, name, extra, input, result throws(RealtimeError) in
    try Sealer.open(input, purpose: .host, name: name, extra: extra, keyring: ring, into: &result)
  }
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
