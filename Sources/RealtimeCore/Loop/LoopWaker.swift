import CLibUV

/// A `uv_async_t`: lets any thread wake the loop thread, which then calls `fire`.
/// libuv coalesces sends, so `fire` runs at least once after any number of `send()` calls.
/// `send()` is safe from any thread; everything else runs on the loop thread.
final class LoopWaker: @unchecked Sendable {
  private let handle: UnsafeMutablePointer<uv_async_t>
  private let fire: () -> Void

  /// Creates the handle on `loop`; call on the loop's thread. `keepsLoopAlive: false` unrefs the
  /// handle so an attached host loop can still exit when its own work is done.
  init(loop: UnsafeMutablePointer<uv_loop_t>, keepsLoopAlive: Bool, fire: @escaping () -> Void)
    throws(RealtimeError)
  {
    handle = .allocate(capacity: 1)
    self.fire = fire
    let rc = uv_async_init(loop, handle) { raw in
      guard let raw, let data = raw.pointee.data else { return }
      Unmanaged<LoopWaker>.fromOpaque(data).takeUnretainedValue().fire()
    }
    guard rc == 0 else {
      handle.deallocate()
      throw RealtimeError(.loop, "uv_async_init: \(String(cString: uv_strerror(rc)))")
    }
    handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    if !keepsLoopAlive { uv_unref(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) }
  }

  /// Wakes the loop thread. Any thread; only until `close()`.
  func send() { uv_async_send(handle) }

  /// Closes the handle (loop thread). Its memory is freed by libuv's close callback, so the handle
  /// may finish closing after this object is gone.
  func close() {
    handle.pointee.data = nil
    closeAndFree(handle)
  }
}

/// Closes any libuv handle allocated with `UnsafeMutablePointer.allocate` and frees it once libuv
/// is done with it (in the close callback, on the loop thread).
func closeAndFree<Handle>(_ handle: UnsafeMutablePointer<Handle>) {
  let raw = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)
  if uv_is_closing(raw) != 0 { return }
  uv_close(raw) { closed in
    closed.map { UnsafeMutableRawPointer($0).deallocate() }
  }
}
