import CLibUV

/// A one-shot rendezvous: one thread blocks in `wait()` until another calls `fulfill(_:)`.
/// Used by calls that cross into the loop thread and need its answer.
final class Waiter<Value: Sendable>: @unchecked Sendable {
  private let semaphore = UnsafeMutablePointer<uv_sem_t>.allocate(capacity: 1)
  // Written once before the semaphore post, read after the wait: the semaphore orders them.
  private var value: Value?

  init() throws(RealtimeError) {
    guard uv_sem_init(semaphore, 0) == 0 else {
      semaphore.deallocate()
      throw RealtimeError(.noMemory, "cannot create a semaphore")
    }
  }

  deinit {
    uv_sem_destroy(semaphore)
    semaphore.deallocate()
  }

  /// Hands `value` to the waiting thread. Call exactly once.
  func fulfill(_ value: Value) {
    self.value = value
    uv_sem_post(semaphore)
  }

  /// Blocks until `fulfill` has been called, then returns its value.
  func wait() -> Value {
    uv_sem_wait(semaphore)
    // fulfill() always sets the value before posting.
    return value.unsafelyUnwrapped
  }
}
