import CRealtimeHeader
import RealtimeCore

/// Fills `config` with the defaults of `RT_LISTEN_CONFIG_INIT`.
@c @implementation public func rt_listen_config_init(_ config: UnsafeMutablePointer<rt_listen_config>?) -> rt_status {
  guard let config else { return fail(nil, .invalidArgument, "config is NULL") }
  config.pointee = rt_listen_config()
  config.pointee.struct_size = MemoryLayout<rt_listen_config>.size
  return RT_OK
}

/// A numeric option: 0 means `fallback`; otherwise it must be within 1...`limit`.
private func option<T: BinaryInteger>(_ value: T, _ fallback: Int, limit: Int, _ name: String) throws(RealtimeError)
  -> Int
{
  if value == 0 { return fallback }
  guard value <= limit else { throw RealtimeError(.invalidArgument, "\(name) \(value) exceeds its maximum \(limit)") }
  return Int(value)
}

/// Turns a caller's `rt_listen_config` (or NULL) into a ListenConfig, checking every limit.
func decodeListenConfig(_ raw: UnsafePointer<rt_listen_config>?) throws(RealtimeError) -> ListenConfig {
  var config = ListenConfig()
  guard let raw else { return config }
  try checkStructSize(raw, name: "rt_listen_config")
  let c = raw.pointee
  if let path = c.path {
    guard let decoded = String(validatingCString: path), decoded.hasPrefix("/"), decoded.utf8.count <= 1024 else {
      throw RealtimeError(.invalidArgument, "path must be UTF-8, start with '/' and be at most 1024 bytes")
    }
    config.session.path = decoded
  }
  config.session.maxMessageBytes = try option(c.max_message_bytes, 1 << 20, limit: 1 << 30, "max_message_bytes")
  config.session.http.maxHeadBytes = try option(c.max_head_bytes, 16 << 10, limit: 1 << 20, "max_head_bytes")
  config.session.http.maxFields = try option(c.max_head_fields, 64, limit: 10_000, "max_head_fields")
  config.maxConnections = try option(c.max_connections, 10_000, limit: 10_000_000, "max_connections")
  config.maxConnectionsPerIP = try option(c.max_connections_per_ip, 256, limit: 10_000_000, "max_connections_per_ip")
  config.maxPendingHandshakes = try option(
    c.max_pending_handshakes, 1024, limit: 10_000_000, "max_pending_handshakes")
  config.handshakeTimeoutMs = UInt64(
    try option(c.handshake_timeout_ms, 10_000, limit: 3_600_000, "handshake_timeout_ms"))
  config.closeTimeoutMs = UInt64(try option(c.close_timeout_ms, 5_000, limit: 3_600_000, "close_timeout_ms"))
  config.idleTimeoutMs = UInt64(try option(c.idle_timeout_ms, 60_000, limit: 86_400_000, "idle_timeout_ms"))
  config.connectTimeoutMs = UInt64(
    try option(c.connect_timeout_ms, 10_000, limit: 3_600_000, "connect_timeout_ms"))
  config.maxWriteQueueBytes = try option(c.max_write_queue_bytes, 4 << 20, limit: 1 << 30, "max_write_queue_bytes")
  if let origins = c.allowed_origins {
    guard c.allowed_origin_count <= 1024 else {
      throw RealtimeError(.invalidArgument, "allowed_origin_count \(c.allowed_origin_count) exceeds 1024")
    }
    var list: [String] = []
    for i in 0..<c.allowed_origin_count {
      guard let entry = origins[i], let origin = String(validatingCString: entry) else {
        throw RealtimeError(.invalidArgument, "allowed_origins[\(i)] is NULL or not UTF-8")
      }
      list.append(origin)
    }
    config.session.allowedOrigins = list
  }
  switch c.token_auth {
  case RT_TOKEN_AUTH_OFF: config.session.tokenAuth = .off
  case RT_TOKEN_AUTH_OPTIONAL: config.session.tokenAuth = .optional
  case RT_TOKEN_AUTH_REQUIRED: config.session.tokenAuth = .required
  default:
    throw RealtimeError(
      .invalidArgument, "token_auth \(c.token_auth) is not RT_TOKEN_AUTH_OFF, _OPTIONAL or _REQUIRED")
  }
  if let fn = c.auth_fn {
    let hook = CAuthHook(fn: fn, userData: c.auth_user_data)
    config.session.authenticate = { request in hook.decide(request) }
  }
  return config
}

/// A host's C authentication hook with its user data, called on the loop thread.
private struct CAuthHook: @unchecked Sendable {
  let fn: rt_auth_fn
  let userData: UnsafeMutableRawPointer?

  func decide(_ request: AuthRequest) -> AuthDecision {
    var identity = rt_identity()
    let answer = withOptionalCString(request.token) { token in
      withOptionalCString(request.origin) { origin in
        request.path.withCString { path in
          var c = rt_auth_request(token: token, token_len: request.token?.utf8.count ?? 0, origin: origin, path: path)
          return fn(userData, &c, &identity)
        }
      }
    }
    switch answer {
    case RT_AUTH_ALLOW:
      let user = fixedString(&identity.user)
      let device = fixedString(&identity.device)
      return .allow(user.isEmpty ? nil : Identity(user: user, device: device.isEmpty ? "default" : device))
    case RT_AUTH_UNAUTHORIZED: return .deny(status: 401, message: "credentials are required")
    default: return .deny(status: 403, message: "access denied")
    }
  }
}

/// The UTF-8 text of a fixed `char[N]` field, up to its first NUL (all of it when the host wrote
/// no NUL); invalid UTF-8 gives "".
private func fixedString<Field>(_ field: inout Field) -> String {
  withUnsafeBytes(of: &field) { raw in
    let bytes = raw.prefix { $0 != 0 }
    return String(validating: bytes, as: UTF8.self) ?? ""
  }
}

private func withOptionalCString<R>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
  guard let text else { return body(nil) }
  return text.withCString { body($0) }
}

@c @implementation public func rt_core_listen(
  _ handle: OpaquePointer?, _ host: UnsafePointer<CChar>?, _ port: UInt16,
  _ config: UnsafePointer<rt_listen_config>?, _ boundPort: UnsafeMutablePointer<UInt16>?
) -> rt_status {
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let host else { return fail(handle, .invalidArgument, "host is NULL") }
  return status(handle) { () throws(RealtimeError) in
    guard let hostString = String(validatingCString: host) else {
      throw RealtimeError(.invalidArgument, "host is not UTF-8")
    }
    let listenConfig = try decodeListenConfig(config)
    let bound = try core(handle).listen(host: hostString, port: Int(port), config: listenConfig)
    boundPort?.pointee = UInt16(truncatingIfNeeded: bound)
  }
}
