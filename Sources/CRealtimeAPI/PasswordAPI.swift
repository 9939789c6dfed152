import CRealtimeHeader
import RealtimeCore

@c @implementation public func rt_password_hash(
  _ coreHandle: OpaquePointer?, _ password: UnsafePointer<CChar>?, _ length: Int, _ out: UnsafeMutablePointer<rt_bytes>?
) -> rt_status {
  out?.pointee = rt_bytes(data: nil, len: 0)
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let out else { return fail(coreHandle, .invalidArgument, "out is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let bytes = try inputBytes(UnsafeRawPointer(password)?.assumingMemoryBound(to: UInt8.self), length, "pw")
    let encoded = try core(coreHandle).passwords.hash(bytes)
    guard let made = makeBytes(encoded) else { throw RealtimeError(.noMemory, "no memory for a hash") }
    out.pointee = made
  }
}

@c @implementation public func rt_password_verify(
  _ coreHandle: OpaquePointer?, _ hash: UnsafePointer<CChar>?, _ password: UnsafePointer<CChar>?, _ length: Int,
  _ matches: UnsafeMutablePointer<Int32>?, _ needsRehash: UnsafeMutablePointer<Int32>?
) -> rt_status {
  matches?.pointee = 0
  needsRehash?.pointee = 0
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let matches else { return fail(coreHandle, .invalidArgument, "matches is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let encoded = try text(hash, "hash")
    let bytes = try inputBytes(UnsafeRawPointer(password)?.assumingMemoryBound(to: UInt8.self), length, "pw")
    let result = try core(coreHandle).passwords.verify(encoded, bytes)
    matches.pointee = result.matches ? 1 : 0
    needsRehash?.pointee = result.needsRehash ? 1 : 0
  }
}

@c @implementation public func rt_password_configure(
  _ coreHandle: OpaquePointer?, _ operations: UInt64, _ memoryBytes: Int, _ maxConcurrent: Int32
) -> rt_status {
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    guard memoryBytes >= 0 else { throw RealtimeError(.invalidArgument, "mem_bytes is too large") }
    try core(coreHandle).configurePasswords(
      limits: PasswordHasher.Limits(operations: operations, memoryBytes: memoryBytes), maxConcurrent: Int(maxConcurrent)
    )
  }
}

/// A host's callback and its argument, carried to a password thread.
private struct PasswordCallback<Fn>: @unchecked Sendable {
  let fn: Fn
  let userData: UnsafeMutableRawPointer?
}

@c @implementation public func rt_password_hash_async(
  _ coreHandle: OpaquePointer?, _ password: UnsafePointer<CChar>?, _ length: Int, _ fn: rt_password_hash_fn?,
  _ userData: UnsafeMutableRawPointer?
) -> rt_status {
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let fn else { return fail(coreHandle, .invalidArgument, "fn is NULL") }
  let callback = PasswordCallback(fn: fn, userData: userData)
  let handle = UInt(bitPattern: coreHandle)
  return status(coreHandle) { () throws(RealtimeError) in
    let bytes = try inputBytes(UnsafeRawPointer(password)?.assumingMemoryBound(to: UInt8.self), length, "pw")
    try core(coreHandle).hashPassword(bytes) { result in
      switch result {
      case .success(let encoded):
        encoded.withCString { callback.fn(callback.userData, RT_OK, $0) }
      case .failure(let error):
        // Recorded on this thread, so rt_core_errmsg answers inside the callback.
        let code = fail(OpaquePointer(bitPattern: handle), error)
        callback.fn(callback.userData, code, nil)
      }
    }
  }
}

@c @implementation public func rt_password_verify_async(
  _ coreHandle: OpaquePointer?, _ hash: UnsafePointer<CChar>?, _ password: UnsafePointer<CChar>?, _ length: Int,
  _ fn: rt_password_verify_fn?, _ userData: UnsafeMutableRawPointer?
) -> rt_status {
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let fn else { return fail(coreHandle, .invalidArgument, "fn is NULL") }
  let callback = PasswordCallback(fn: fn, userData: userData)
  let handle = UInt(bitPattern: coreHandle)
  return status(coreHandle) { () throws(RealtimeError) in
    let encoded = try text(hash, "hash")
    let bytes = try inputBytes(UnsafeRawPointer(password)?.assumingMemoryBound(to: UInt8.self), length, "pw")
    try core(coreHandle).verifyPassword(bytes, hash: encoded) { result in
      switch result {
      case .success(let check):
        callback.fn(callback.userData, RT_OK, check.matches ? 1 : 0, check.needsRehash ? 1 : 0)
      case .failure(let error):
        let code = fail(OpaquePointer(bitPattern: handle), error)
        callback.fn(callback.userData, code, 0, 0)
      }
    }
  }
}
