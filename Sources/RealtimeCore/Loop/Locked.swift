import CLibUV

/// A value behind a pthread mutex (through libuv). Used instead of `Synchronization.Mutex`,
/// whose raw futex calls ThreadSanitizer cannot see, so that TSan runs of the suites report real
/// races only.
final class Locked<State>: @unchecked Sendable {
  private let mutex = UnsafeMutablePointer<uv_mutex_t>.allocate(capacity: 1)
  private var state: State

  init(_ state: State) {
    self.state = state
    // A default pthread mutex cannot fail to initialise on glibc; the zeroed memory is itself a
    // valid default mutex, should it ever report an error.
    mutex.initialize(to: uv_mutex_t())
    _ = uv_mutex_init(mutex)
  }

  deinit {
    uv_mutex_destroy(mutex)
    mutex.deallocate()
  }

  /// Runs `body` with exclusive access to the value.
  func withLock<R, E: Error>(_ body: (inout State) throws(E) -> R) throws(E) -> R {
    uv_mutex_lock(mutex)
    defer { uv_mutex_unlock(mutex) }
    return try body(&state)
  }
}
