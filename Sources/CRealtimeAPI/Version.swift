import CRealtimeHeader
import RealtimeCore

/// The version this library was built with; `RT_VERSION_NUMBER` in the header it was built from.
@c @implementation public func rt_version_number() -> UInt32 {
  UInt32(RT_VERSION_MAJOR * 1_000_000 + RT_VERSION_MINOR * 1_000 + RT_VERSION_PATCH)
}

/// The version as a static C string.
@c @implementation public func rt_version_string() -> UnsafePointer<CChar>! {
  cString(RT_VERSION_STRING_LITERAL)
}

/// A static name for `status`.
@c @implementation public func rt_strerror(_ status: rt_status) -> UnsafePointer<CChar>! {
  if status == RT_OK { return cString("ok") }
  guard let code = ErrorCode(rawValue: status) else { return cString("unknown status") }
  return cString(code.summary)
}

// Keep in step with RT_VERSION_STRING in include/realtime.h (a test compares them).
let RT_VERSION_STRING_LITERAL: StaticString = "0.1.0"

/// A static string's bytes as a C string: string literals are stored NUL-terminated.
func cString(_ s: StaticString) -> UnsafePointer<CChar> {
  UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}
