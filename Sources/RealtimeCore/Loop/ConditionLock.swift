import CLibUV

/// A mutex with a condition variable (libuv's portable primitives), for threads that must block:
/// the store writer waiting for work, callers waiting for the loop to answer.
final class ConditionLock: @unchecked Sendable {
  // Heap-allocated: libuv primitives must not move once initialised.
  private let mutex = UnsafeMutablePointer<uv_mutex_t>.allocate(capacity: 1)
  private let cond = UnsafeMutablePointer<uv_cond_t>.allocate(capacity: 1)

  init() throws(RealtimeError) {
    guard uv_mutex_init(mutex) == 0 else {
      mutex.deallocate()
      cond.deallocate()
      throw RealtimeError(.noMemory, "cannot create a mutex")
    }
    guard uv_cond_init(cond) == 0 else {
      uv_mutex_destroy(mutex)
      mutex.deallocate()
      cond.deallocate()
      throw RealtimeError(.noMemory, "cannot create a condition variable")
    }
  }

  deinit {
    uv_cond_destroy(cond)
    uv_mutex_destroy(mutex)
    cond.deallocate()
    mutex.deallocate()
  }

  /// Runs `body` holding the lock; `body` may call `wait()` and `broadcast()`.
  func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    uv_mutex_lock(mutex)
    defer { uv_mutex_unlock(mutex) }
    return try body()
  }

  /// Releases the lock until another thread broadcasts; call only inside `withLock`.
  func wait() { uv_cond_wait(cond, mutex) }

  /// Wakes every waiter; call inside `withLock`.
  func broadcast() { uv_cond_broadcast(cond) }
}
