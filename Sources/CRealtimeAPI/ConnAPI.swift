import CRealtimeHeader
import RealtimeCore

/// What an `rt_conn *` points to: the core (kept alive while the handle exists) and the id.
private final class ConnHandle {
  let core: Core
  let id: UInt64
  /// The host's `rt_core *` for this core, under which failures are recorded for rt_core_errmsg.
  var corePointer: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(core).toOpaque()) }
  init(core: Core, id: UInt64) {
    self.core = core
    self.id = id
  }
}

/// The host's callbacks and user data, called on the loop thread as the header documents.
private struct ConnCallbacks: @unchecked Sendable {
  let output: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, Int) -> Void
  let end: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
  let userData: UnsafeMutableRawPointer?
}

/// The most a single rt_conn_feed may hand over.
private let maxFeedBytes = 16 << 20

@c @implementation public func rt_conn_open(
  _ handle: OpaquePointer?, _ config: UnsafePointer<rt_listen_config>?,
  _ output: (@convention(c) (UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, Int) -> Void)?,
  _ end: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?, _ userData: UnsafeMutableRawPointer?,
  _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> rt_status {
  out?.pointee = nil
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let output else { return fail(handle, .invalidArgument, "output is NULL") }
  guard let out else { return fail(handle, .invalidArgument, "out is NULL") }
  return status(handle) { () throws(RealtimeError) in
    let listenConfig = try decodeListenConfig(config)
    let callbacks = ConnCallbacks(output: output, end: end, userData: userData)
    let owner = core(handle)
    let id = try owner.openHostConnection(
      config: listenConfig,
      output: { bytes in
        callbacks.output(callbacks.userData, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
      },
      ended: { callbacks.end?(callbacks.userData) })
    out.pointee = OpaquePointer(Unmanaged.passRetained(ConnHandle(core: owner, id: id)).toOpaque())
  }
}

@c @implementation public func rt_conn_feed(
  _ conn: OpaquePointer?, _ data: UnsafePointer<UInt8>?, _ len: Int
) -> rt_status {
  guard let conn else { return fail(nil, .invalidArgument, "conn is NULL") }
  let handle = Unmanaged<ConnHandle>.fromOpaque(UnsafeRawPointer(conn)).takeUnretainedValue()
  guard len <= maxFeedBytes else {
    return fail(handle.corePointer, .invalidArgument, "rt_conn_feed takes at most \(maxFeedBytes) bytes per call")
  }
  guard len == 0 || data != nil else { return fail(handle.corePointer, .invalidArgument, "data is NULL") }
  guard len > 0, let data else { return RT_OK }
  return status(handle.corePointer) { () throws(RealtimeError) in
    try handle.core.feedHostConnection(handle.id, UnsafeRawBufferPointer(start: data, count: len))
  }
}

@c @implementation public func rt_conn_close(_ conn: UnsafeMutablePointer<OpaquePointer?>?) -> rt_status {
  guard let conn, let opened = conn.pointee else { return RT_OK }
  let handle = Unmanaged<ConnHandle>.fromOpaque(UnsafeRawPointer(opened))
  let result = status(handle.takeUnretainedValue().corePointer) { () throws(RealtimeError) in
    let value = handle.takeUnretainedValue()
    try value.core.closeHostConnection(value.id)
  }
  guard result == RT_OK else { return result }
  handle.release()
  conn.pointee = nil
  return RT_OK
}
