import CRealtimeHeader
import RealtimeCore

@c @implementation public func rt_limit_set(
  _ handle: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ policy: UnsafePointer<rt_limit_policy>?
) -> rt_status {
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(handle) { () throws(RealtimeError) in
    guard let name else { throw RealtimeError(.invalidArgument, "name is NULL") }
    guard let decoded = String(validatingCString: name) else {
      throw RealtimeError(.invalidArgument, "name is not UTF-8")
    }
    var limit: RateLimitPolicy?
    if let policy {
      try checkStructSize(policy, name: "rt_limit_policy")
      let p = policy.pointee
      limit = RateLimitPolicy(count: p.count, periodMs: p.period_ms, burst: p.burst)
    }
    try core(handle).rateLimiter.set(decoded, limit)
  }
}

@c @implementation public func rt_limit_check(
  _ handle: OpaquePointer?, _ policy: UnsafePointer<CChar>?, _ key: UnsafeRawPointer?, _ keyLength: Int,
  _ cost: UInt64, _ allowed: UnsafeMutablePointer<Int32>?, _ retryAfterMs: UnsafeMutablePointer<UInt64>?
) -> rt_status {
  // Refused until proven otherwise: a caller that ignores the status does not let a request through.
  allowed?.pointee = 0
  retryAfterMs?.pointee = 0
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let policy else { return fail(handle, .invalidArgument, "policy is NULL") }
  guard let allowed else { return fail(handle, .invalidArgument, "allowed is NULL") }
  guard keyLength == 0 || key != nil else { return fail(handle, .invalidArgument, "key is NULL") }
  // Bounded before strlen-like scans or hashing: a policy name is at most 32 bytes.
  var nameLength = 0
  while nameLength <= 32 && policy[nameLength] != 0 { nameLength += 1 }
  guard nameLength <= 32 else { return fail(handle, .notFound, "no rate limit has a name over 32 bytes") }
  do throws(RealtimeError) {
    let decision = try core(handle).rateLimiter.check(
      UnsafeRawBufferPointer(start: policy, count: nameLength),
      key: UnsafeRawBufferPointer(start: key, count: keyLength),
      cost: cost)
    allowed.pointee = decision.allowed ? 1 : 0
    retryAfterMs?.pointee = decision.retryAfterMs
    return RT_OK
  } catch {
    return fail(handle, error)
  }
}
