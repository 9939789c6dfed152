import CLibUV

/// A one-shot or repeating timer on the loop thread (a `uv_timer_t`). Loop-thread only.
/// Timers never keep a loop alive by themselves: the core's mailbox decides when its own loop
/// ends, and a host's handles decide for the host's loop.
final class LoopTimer {
  private let handle = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
  private var body: (() -> Void)?
  private let onClose: (LoopTimer) -> Void
  private(set) var isClosed = false

  /// Creates a stopped timer; `onClose` runs once when it is cancelled (the engine forgets it).
  init(loop: UnsafeMutablePointer<uv_loop_t>, onClose: @escaping (LoopTimer) -> Void) throws(RealtimeError) {
    self.onClose = onClose
    let rc = uv_timer_init(loop, handle)
    guard rc == 0 else {
      handle.deallocate()
      throw RealtimeError(.loop, "uv_timer_init: \(String(cString: uv_strerror(rc)))")
    }
    handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    uv_unref(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self))
  }

  /// Runs `body` after `delay` milliseconds, then every `interval` milliseconds if it is not 0.
  func start(after delay: UInt64, every interval: UInt64 = 0, _ body: @escaping () -> Void) {
    guard !isClosed else { return }
    self.body = body
    uv_timer_start(
      handle,
      { raw in
        guard let raw, let data = raw.pointee.data else { return }
        let timer = Unmanaged<LoopTimer>.fromOpaque(data).takeUnretainedValue()
        timer.body?()
      }, delay, interval)
  }

  /// Stops the timer; it can be started again.
  func stop() {
    guard !isClosed else { return }
    uv_timer_stop(handle)
  }

  /// Stops the timer for good and releases its handle. Idempotent.
  func cancel() {
    guard !isClosed else { return }
    isClosed = true
    uv_timer_stop(handle)
    body = nil
    handle.pointee.data = nil
    closeAndFree(handle)
    onClose(self)
  }

  /// The loop's cached time in milliseconds, the clock timers run on.
  static func now(_ loop: UnsafeMutablePointer<uv_loop_t>) -> UInt64 { uv_now(loop) }
}
