import CLibUV

/// A thread started with libuv, joined explicitly.
struct LoopThread: @unchecked Sendable {
  private var tid = uv_thread_t()

  private final class Entry {
    let name: String
    let body: @Sendable () -> Void
    init(_ name: String, _ body: @escaping @Sendable () -> Void) {
      self.name = name
      self.body = body
    }
  }

  /// Starts a thread running `body`, named `rt-NAME` (cut to the kernel's 15 bytes) so `top -H`
  /// and profilers tell the core's threads apart.
  init(name: String, _ body: @escaping @Sendable () -> Void) throws(RealtimeError) {
    let entry = Unmanaged.passRetained(Entry(name, body)).toOpaque()
    let rc = uv_thread_create(
      &tid,
      { arg in
        guard let arg else { return }
        let entry = Unmanaged<Entry>.fromOpaque(arg).takeRetainedValue()
        _ = pthread_setname_np(pthread_self(), String(("rt-" + entry.name).utf8.prefix(15)) ?? "rt")
        entry.body()
      }, entry)
    guard rc == 0 else {
      Unmanaged<Entry>.fromOpaque(entry).release()
      throw RealtimeError(.noMemory, "cannot start the \(name) thread: \(String(cString: uv_strerror(rc)))")
    }
  }

  /// Waits for the thread to finish.
  mutating func join() { uv_thread_join(&tid) }
}

/// Identifies a thread, to tell whether a call arrives on the loop thread.
struct ThreadID: @unchecked Sendable {
  let raw: uv_thread_t
  static var current: ThreadID { ThreadID(raw: uv_thread_self()) }
  var isCurrent: Bool {
    var me = uv_thread_self()
    var other = raw
    return uv_thread_equal(&me, &other) != 0
  }
}
