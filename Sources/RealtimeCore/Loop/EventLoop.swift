import CLibUV

/// The libuv loop a core runs on: one the core created for its own thread, or the host's.
/// Used by one thread at a time: created by the caller of start, run by the loop thread, closed
/// after that thread is joined.
final class EventLoop: @unchecked Sendable {
  let raw: UnsafeMutablePointer<uv_loop_t>
  /// Whether the core created (and so closes and frees) the loop.
  let isOwned: Bool

  /// Creates a loop for the core's own thread.
  static func makeOwned() throws(RealtimeError) -> EventLoop {
    let raw = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
    let rc = uv_loop_init(raw)
    guard rc == 0 else {
      raw.deallocate()
      throw RealtimeError(.loop, "uv_loop_init: \(String(cString: uv_strerror(rc)))")
    }
    return EventLoop(raw: raw, isOwned: true)
  }

  /// Wraps a loop the host owns; the host runs and closes it.
  static func borrowing(_ raw: UnsafeMutablePointer<uv_loop_t>) -> EventLoop {
    EventLoop(raw: raw, isOwned: false)
  }

  private init(raw: UnsafeMutablePointer<uv_loop_t>, isOwned: Bool) {
    self.raw = raw
    self.isOwned = isOwned
  }

  /// Runs the loop until no active handles remain (own loops only).
  func run() { uv_run(raw, UV_RUN_DEFAULT) }

  deinit {
    guard isOwned else { return }
    // Every handle is closed before the loop is dropped; if one is not, walk and close it so
    // nothing leaks, then let its close callback run.
    if uv_loop_close(raw) == UV_EBUSY.rawValue {
      uv_walk(
        raw,
        { handle, _ in
          if let handle, uv_is_closing(handle) == 0 { uv_close(handle, nil) }
        }, nil)
      uv_run(raw, UV_RUN_DEFAULT)
      uv_loop_close(raw)
    }
    raw.deallocate()
  }
}

/// Calls `body` at the end of every loop turn: in the check phase (after I/O callbacks) and the
/// prepare phase (after timers, before the loop blocks). This is where work gathered during a
/// turn is handed off as one batch — the group commit of the store. `beforeBlocking` runs after
/// `body` in the prepare phase only, just before the loop may sleep.
final class TurnEndHook {
  private let check = UnsafeMutablePointer<uv_check_t>.allocate(capacity: 1)
  private let prepare = UnsafeMutablePointer<uv_prepare_t>.allocate(capacity: 1)
  private let body: () -> Void
  private let beforeBlocking: () -> Void

  init(
    loop: UnsafeMutablePointer<uv_loop_t>, body: @escaping () -> Void,
    beforeBlocking: @escaping () -> Void = {}
  ) throws(RealtimeError) {
    self.body = body
    self.beforeBlocking = beforeBlocking
    uv_check_init(loop, check)
    uv_prepare_init(loop, prepare)
    let me = Unmanaged.passUnretained(self).toOpaque()
    check.pointee.data = me
    prepare.pointee.data = me
    let rc1 = uv_check_start(check) { h in
      guard let h, let d = h.pointee.data else { return }
      Unmanaged<TurnEndHook>.fromOpaque(d).takeUnretainedValue().body()
    }
    let rc2 = uv_prepare_start(prepare) { h in
      guard let h, let d = h.pointee.data else { return }
      let hook = Unmanaged<TurnEndHook>.fromOpaque(d).takeUnretainedValue()
      hook.body()
      hook.beforeBlocking()
    }
    // These handles never keep a loop alive on their own.
    uv_unref(UnsafeMutableRawPointer(check).assumingMemoryBound(to: uv_handle_t.self))
    uv_unref(UnsafeMutableRawPointer(prepare).assumingMemoryBound(to: uv_handle_t.self))
    guard rc1 == 0, rc2 == 0 else {
      close()
      throw RealtimeError(.loop, "cannot start the turn-end hook")
    }
  }

  /// Closes both handles; libuv frees them once closed.
  func close() {
    check.pointee.data = nil
    prepare.pointee.data = nil
    closeAndFree(check)
    closeAndFree(prepare)
  }
}
