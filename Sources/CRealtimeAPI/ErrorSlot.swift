import CRealtimeHeader
import RealtimeCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The calling thread's last failure: which core it concerned and its message as a C string.
/// Per thread, so concurrent calls never overwrite each other's message.
private final class ErrorSlot {
  var core: OpaquePointer?
  /// malloc'd, NUL-terminated; stays put until the next failure replaces it.
  private(set) var message: UnsafeMutablePointer<CChar>?

  func set(_ text: String) {
    free(message)
    message = strdup(text)
  }

  deinit { free(message) }
}

private let errorSlotKey: pthread_key_t = {
  var key = pthread_key_t()
  // The destructor releases the thread's slot when the thread exits.
  pthread_key_create(&key) { raw in
    raw.map { Unmanaged<ErrorSlot>.fromOpaque($0).release() }
  }
  return key
}()

private func currentSlot() -> ErrorSlot {
  if let raw = pthread_getspecific(errorSlotKey) {
    return Unmanaged<ErrorSlot>.fromOpaque(raw).takeUnretainedValue()
  }
  let slot = ErrorSlot()
  pthread_setspecific(errorSlotKey, Unmanaged.passRetained(slot).toOpaque())
  return slot
}

/// Records `error` as this thread's last failure on `core` and returns its status code.
func fail(_ core: OpaquePointer?, _ error: RealtimeError) -> rt_status {
  let slot = currentSlot()
  slot.core = core
  slot.set(error.message)
  return error.code.rawValue
}

/// Shorthand for failing with a fresh error.
func fail(_ core: OpaquePointer?, _ code: ErrorCode, _ message: String) -> rt_status {
  fail(core, RealtimeError(code, message))
}

/// Runs `body`, turning a thrown error into its status (recorded for `rt_core_errmsg`).
func status(_ core: OpaquePointer?, _ body: () throws(RealtimeError) -> Void) -> rt_status {
  do {
    try body()
    return RT_OK
  } catch {
    return fail(core, error)
  }
}

/// This thread's last failure message for `core`, or "".
@c @implementation public func rt_core_errmsg(_ core: OpaquePointer?) -> UnsafePointer<CChar>! {
  let slot = currentSlot()
  guard slot.core == core, let message = slot.message else { return cString("") }
  return UnsafePointer(message)
}
