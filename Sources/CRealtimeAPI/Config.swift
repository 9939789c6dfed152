import CRealtimeHeader
import RealtimeCore

/// Fills `config` with the defaults of `RT_CONFIG_INIT`.
@c @implementation public func rt_config_init(_ config: UnsafeMutablePointer<rt_config>?) -> rt_status {
  guard let config else { return fail(nil, .invalidArgument, "config is NULL") }
  config.pointee = defaultConfig()
  return RT_OK
}

func defaultConfig() -> rt_config {
  rt_config(
    struct_size: MemoryLayout<rt_config>.size, db_path: nil, durability: RT_DURABILITY_FULL,
    log_level: RT_LOG_WARN, log_fn: nil, log_user_data: nil)
}

/// A C log callback and its user data, called from any thread as the header documents.
private struct CLogTarget: @unchecked Sendable {
  let fn: @convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?) -> Void
  let userData: UnsafeMutableRawPointer?
}

/// Reads a caller's `rt_config` of any size it may have been compiled with (see checkStructSize).
func decodeConfig(_ raw: UnsafePointer<rt_config>) throws(RealtimeError) -> CoreConfig {
  try checkStructSize(raw, name: "rt_config")
  let c = raw.pointee
  guard let durability = Durability(rawValue: c.durability) else {
    throw RealtimeError(.invalidArgument, "durability \(c.durability) is not one of RT_DURABILITY_*")
  }
  guard let level = LogLevel(rawValue: c.log_level) else {
    throw RealtimeError(.invalidArgument, "log_level \(c.log_level) is not one of RT_LOG_*")
  }
  var config = CoreConfig(durability: durability, logLevel: level)
  if let path = c.db_path {
    guard let decoded = String(validatingCString: path) else {
      throw RealtimeError(.invalidArgument, "db_path is not valid UTF-8")
    }
    config.databasePath = decoded
  }
  if let fn = c.log_fn {
    let target = CLogTarget(fn: fn, userData: c.log_user_data)
    config.logHandler = { level, message in
      message.withCString { target.fn(target.userData, level.rawValue, $0) }
    }
  }
  return config
}
