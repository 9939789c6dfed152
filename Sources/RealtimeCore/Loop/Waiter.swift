import CLibUV
import Synchronization

/// A one-shot rendezvous: one thread blocks in `wait()` until another calls `fulfill(_:)`.
/// Used by calls that cross into the loop thread and need its answer.
///
/// The waiter spins briefly before it sleeps: a loop answers a small call in a few microseconds,
/// and a thread that went to sleep pays a wake-up that on a virtual machine (an idle vCPU halts)
/// costs tens of microseconds more than the call itself.
final class Waiter<Value: Sendable>: @unchecked Sendable {
  /// How long `wait()` polls before it sleeps on the semaphore.
  static var spinNanoseconds: UInt64 { 50_000 }

  private let semaphore = UnsafeMutablePointer<uv_sem_t>.allocate(capacity: 1)
  private let ready = Atomic<Bool>(false)
  // Written once before `ready` is released and the semaphore posted; read after either.
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
    ready.store(true, ordering: .releasing)
    uv_sem_post(semaphore)
  }

  /// Blocks until `fulfill` has been called, then returns its value.
  func wait() -> Value {
    let deadline = uv_hrtime() &+ Self.spinNanoseconds
    var polls = 0
    while !ready.load(ordering: .acquiring) {
      polls &+= 1
      if polls & 63 == 0 && uv_hrtime() >= deadline { break }
    }
    // Always take the post, so fulfill() is done with the semaphore before deinit destroys it.
    uv_sem_wait(semaphore)
    // fulfill() always sets the value before posting.
    return value.unsafelyUnwrapped
  }
}
