import CRealtimeHeader
import RealtimeCore

/// A NUL-terminated key id.
private func keyID(_ kid: UnsafePointer<CChar>?) throws(RealtimeError) -> String {
  try text(kid, "kid")
}

/// RT_TOKEN_ACCESS or RT_TOKEN_REFRESH.
private func tokenType(_ typ: Int32) throws(RealtimeError) -> TokenType {
  switch typ {
  case RT_TOKEN_ACCESS: return .access
  case RT_TOKEN_REFRESH: return .refresh
  default: throw RealtimeError(.invalidArgument, "typ \(typ) is neither RT_TOKEN_ACCESS nor RT_TOKEN_REFRESH")
  }
}

@c @implementation public func rt_token_key_add(
  _ coreHandle: OpaquePointer?, _ kid: UnsafePointer<CChar>?, _ seed: UnsafePointer<UInt8>?, _ length: Int
) -> rt_status {
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let id = try keyID(kid)
    try core(coreHandle).tokens.addKey(id: id, seed: try inputBytes(seed, length, "seed"))
  }
}

@c @implementation public func rt_token_key_use(_ coreHandle: OpaquePointer?, _ kid: UnsafePointer<CChar>?)
  -> rt_status
{
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in try core(coreHandle).tokens.useKey(id: try keyID(kid)) }
}

@c @implementation public func rt_token_key_remove(_ coreHandle: OpaquePointer?, _ kid: UnsafePointer<CChar>?)
  -> rt_status
{
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    try core(coreHandle).tokens.removeKey(id: try keyID(kid))
  }
}

@c @implementation public func rt_token_public_key(
  _ coreHandle: OpaquePointer?, _ kid: UnsafePointer<CChar>?, _ pk: UnsafeMutablePointer<UInt8>?
) -> rt_status {
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    guard let pk else { throw RealtimeError(.invalidArgument, "pk is NULL") }
    let id: String? = kid == nil ? nil : try keyID(kid)
    let key = try core(coreHandle).tokens.publicKey(id: id)
    pk.update(from: key, count: min(key.count, Int(RT_TOKEN_PUBLIC_KEY_BYTES)))
  }
}

@c @implementation public func rt_token_issue(
  _ coreHandle: OpaquePointer?, _ sub: UnsafePointer<CChar>?, _ device: UnsafePointer<CChar>?,
  _ scope: UnsafePointer<CChar>?, _ typ: Int32, _ ttl: Int64, _ out: UnsafeMutablePointer<rt_bytes>?
) -> rt_status {
  out?.pointee = rt_bytes(data: nil, len: 0)
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let out else { return fail(coreHandle, .invalidArgument, "out is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let token = try core(coreHandle).tokens.issue(
      subject: try text(sub, "sub"), device: device == nil ? "" : try text(device, "device"),
      scope: scope == nil ? "" : try text(scope, "scope"), type: try tokenType(typ), ttl: ttl)
    guard let made = makeBytes(token) else { throw RealtimeError(.noMemory, "no memory for a token") }
    out.pointee = made
  }
}

@c @implementation public func rt_token_verify(
  _ coreHandle: OpaquePointer?, _ token: UnsafePointer<CChar>?, _ length: Int, _ typ: Int32,
  _ claims: UnsafeMutablePointer<rt_bytes>?
) -> rt_status {
  claims?.pointee = rt_bytes(data: nil, len: 0)
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let bytes = try inputBytes(UnsafeRawPointer(token)?.assumingMemoryBound(to: UInt8.self), length, "token")
    let verified = try core(coreHandle).tokens.verify(bytes, expecting: try tokenType(typ))
    if let claims { try output(verified.claimsJSON, claims) }
  }
}
