import CRealtimeHeader
import RealtimeCore

// An rt_core * is a retained reference to a Core; rt_core_close releases it.

func core(_ handle: OpaquePointer) -> Core {
  Unmanaged<Core>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}

@c @implementation public func rt_core_open(
  _ config: UnsafePointer<rt_config>?, _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> rt_status {
  out?.pointee = nil
  guard let config else { return fail(nil, .invalidArgument, "config is NULL") }
  guard let out else { return fail(nil, .invalidArgument, "out is NULL") }
  return status(nil) { () throws(RealtimeError) in
    let opened = try Core(config: try decodeConfig(config))
    out.pointee = OpaquePointer(Unmanaged.passRetained(opened).toOpaque())
  }
}

@c @implementation public func rt_core_start(_ handle: OpaquePointer?) -> rt_status {
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(handle) { () throws(RealtimeError) in try core(handle).start() }
}

@c @implementation public func rt_core_attach(_ handle: OpaquePointer?, _ loop: UnsafeMutableRawPointer?)
  -> rt_status
{
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let loop else { return fail(handle, .invalidArgument, "uv_loop is NULL") }
  return status(handle) { () throws(RealtimeError) in try core(handle).attach(loop: loop) }
}

@c @implementation public func rt_core_stop(_ handle: OpaquePointer?) -> rt_status {
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(handle) { () throws(RealtimeError) in try core(handle).stop() }
}

@c @implementation public func rt_core_sync(_ handle: OpaquePointer?) -> rt_status {
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(handle) { () throws(RealtimeError) in try core(handle).sync() }
}

@c @implementation public func rt_core_check(_ handle: OpaquePointer?, _ report: UnsafeMutablePointer<rt_bytes>?)
  -> rt_status
{
  report?.pointee = rt_bytes(data: nil, len: 0)
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(handle) { () throws(RealtimeError) in
    let (ok, text) = try core(handle).integrityCheck()
    if let report {
      guard let bytes = makeBytes(text) else { throw RealtimeError(.noMemory, "cannot allocate the report") }
      report.pointee = bytes
    }
    if !ok { throw RealtimeError(.corrupt, "integrity check failed: \(text.prefix(500))") }
  }
}

@c @implementation public func rt_core_close(_ handle: UnsafeMutablePointer<OpaquePointer?>?) -> rt_status {
  guard let handle, let opened = handle.pointee else { return RT_OK }
  let result = status(opened) { () throws(RealtimeError) in try core(opened).close() }
  guard result == RT_OK else { return result }
  Unmanaged<Core>.fromOpaque(UnsafeRawPointer(opened)).release()
  handle.pointee = nil
  return RT_OK
}
