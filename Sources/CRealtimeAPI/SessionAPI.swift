import CRealtimeHeader
import RealtimeCore

/// A NUL-terminated argument of at most `limit` bytes.
private func limited(_ raw: UnsafePointer<CChar>?, _ name: String, _ limit: Int) throws(RealtimeError) -> String {
  let value = try text(raw, name)
  guard (1...limit).contains(value.utf8.count) else {
    throw RealtimeError(.invalidArgument, "\(name) is 1 to \(limit) bytes; this one has \(value.utf8.count)")
  }
  return value
}

/// Writes a session's two tokens to the caller's outputs, or neither.
private func output(
  _ tokens: SessionTokens, _ access: UnsafeMutablePointer<rt_bytes>, _ refresh: UnsafeMutablePointer<rt_bytes>
) throws(RealtimeError) {
  guard let a = makeBytes(tokens.access) else { throw RealtimeError(.noMemory, "no memory for a token") }
  guard let r = makeBytes(tokens.refresh) else {
    var a = a
    rt_bytes_free(&a)
    throw RealtimeError(.noMemory, "no memory for a token")
  }
  access.pointee = a
  refresh.pointee = r
}

/// A time as JSON: `"YYYY-MM-DDTHH:MM:SSZ"`, or null.
private func jsonTime(_ seconds: Int64?) -> FlatJSONValue {
  guard let seconds, let text = UTCTime.format(seconds) else { return .null }
  return .string(text)
}

/// JSON array of flat objects.
private func jsonArray(_ objects: [[(key: String, value: FlatJSONValue)]]) -> [UInt8] {
  Array(("[" + objects.map { FlatJSON.encode($0) }.joined(separator: ",") + "]").utf8)
}

@c @implementation public func rt_session_start(
  _ coreHandle: OpaquePointer?, _ sub: UnsafePointer<CChar>?, _ device: UnsafePointer<CChar>?,
  _ scope: UnsafePointer<CChar>?, _ accessTTL: Int64, _ refreshTTL: Int64, _ access: UnsafeMutablePointer<rt_bytes>?,
  _ refresh: UnsafeMutablePointer<rt_bytes>?, _ sid: UnsafeMutablePointer<CChar>?
) -> rt_status {
  access?.pointee = rt_bytes(data: nil, len: 0)
  refresh?.pointee = rt_bytes(data: nil, len: 0)
  sid?.pointee = 0
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let access, let refresh else { return fail(coreHandle, .invalidArgument, "access or refresh is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let tokens = try core(coreHandle).sessions.start(
      subject: try limited(sub, "sub", Tokens.maxSubject), device: try limited(device, "device", Tokens.maxDevice),
      scope: scope == nil ? "" : try text(scope, "scope"), accessTTL: accessTTL, refreshTTL: refreshTTL)
    try output(tokens, access, refresh)
    if let sid {
      let bytes = Array(tokens.sessionID.utf8.prefix(Int(RT_SESSION_ID_BYTES) - 1))
      for (i, b) in bytes.enumerated() { sid[i] = CChar(bitPattern: b) }
      sid[bytes.count] = 0
    }
  }
}

@c @implementation public func rt_session_refresh(
  _ coreHandle: OpaquePointer?, _ token: UnsafePointer<CChar>?, _ length: Int,
  _ access: UnsafeMutablePointer<rt_bytes>?, _ refresh: UnsafeMutablePointer<rt_bytes>?
) -> rt_status {
  access?.pointee = rt_bytes(data: nil, len: 0)
  refresh?.pointee = rt_bytes(data: nil, len: 0)
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let access, let refresh else { return fail(coreHandle, .invalidArgument, "access or refresh is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let bytes = try inputBytes(UnsafeRawPointer(token)?.assumingMemoryBound(to: UInt8.self), length, "token")
    try output(try core(coreHandle).sessions.refresh(bytes), access, refresh)
  }
}

@c @implementation public func rt_session_revoke(_ coreHandle: OpaquePointer?, _ sid: UnsafePointer<CChar>?)
  -> rt_status
{
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    try core(coreHandle).sessions.revoke(try limited(sid, "sid", Int(RT_SESSION_ID_BYTES) - 1))
  }
}

@c @implementation public func rt_session_revoke_device(
  _ coreHandle: OpaquePointer?, _ user: UnsafePointer<CChar>?, _ device: UnsafePointer<CChar>?,
  _ count: UnsafeMutablePointer<Int>?
) -> rt_status {
  count?.pointee = 0
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let revoked = try core(coreHandle).sessions.revoke(
      user: try limited(user, "user", Tokens.maxSubject), device: try limited(device, "device", Tokens.maxDevice))
    count?.pointee = revoked
  }
}

@c @implementation public func rt_session_revoke_user(
  _ coreHandle: OpaquePointer?, _ user: UnsafePointer<CChar>?, _ count: UnsafeMutablePointer<Int>?
) -> rt_status {
  count?.pointee = 0
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    // Evaluated first: `count?.pointee = f()` skips f when count is NULL.
    let revoked = try core(coreHandle).sessions.revoke(user: try limited(user, "user", Tokens.maxSubject))
    count?.pointee = revoked
  }
}

@c @implementation public func rt_session_list(
  _ coreHandle: OpaquePointer?, _ user: UnsafePointer<CChar>?, _ json: UnsafeMutablePointer<rt_bytes>?
) -> rt_status {
  json?.pointee = rt_bytes(data: nil, len: 0)
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let json else { return fail(coreHandle, .invalidArgument, "json is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let name = try limited(user, "user", Tokens.maxSubject)
    let sessions = core(coreHandle).sessions.list(user: name)
    try output(
      jsonArray(
        sessions.map { s in
          [
            ("sid", .string(s.id)), ("device", .string(s.device)), ("scope", .string(s.scope)),
            ("created", jsonTime(s.created)), ("refreshed", jsonTime(s.refreshed)), ("expires", jsonTime(s.expires)),
            ("revoked", jsonTime(s.revokedAt)), ("reason", s.revokedReason.map { .string($0) } ?? .null),
          ]
        }), json)
  }
}

@c @implementation public func rt_device_rename(
  _ coreHandle: OpaquePointer?, _ user: UnsafePointer<CChar>?, _ device: UnsafePointer<CChar>?,
  _ name: UnsafePointer<CChar>?
) -> rt_status {
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    try core(coreHandle).sessions.nameDevice(
      user: try limited(user, "user", Tokens.maxSubject), device: try limited(device, "device", Tokens.maxDevice),
      name: name == nil ? nil : try text(name, "name"))
  }
}

@c @implementation public func rt_device_list(
  _ coreHandle: OpaquePointer?, _ user: UnsafePointer<CChar>?, _ json: UnsafeMutablePointer<rt_bytes>?
) -> rt_status {
  json?.pointee = rt_bytes(data: nil, len: 0)
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let json else { return fail(coreHandle, .invalidArgument, "json is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let devices = try core(coreHandle).sessions.devices(user: try limited(user, "user", Tokens.maxSubject))
    try output(
      jsonArray(
        devices.map { d in
          [
            ("device", .string(d.device)), ("first_seen", jsonTime(d.firstSeen)), ("last_seen", jsonTime(d.lastSeen)),
            ("name", d.name.map { .string($0) } ?? .null),
          ]
        }), json)
  }
}
