// What a cross-thread round trip costs without RealtimeCore: the same primitives Core.sync() is
// built from (uv_async_send to wake a libuv loop thread, a uv_sem to wake the caller), used
// bare. The gap between these and Core.sync() is the library's own overhead; the figures
// themselves are the floor the machine (here a 2-vCPU VM) allows.
import BenchSupport
import CUVBench
import Foundation
import Histogram
import Synchronization

/// Shared with the loop thread's async callback through `uv_async_t.data`.
private final class AsyncContext: @unchecked Sendable {
  let reply = UnsafeMutablePointer<uv_sem_t>.allocate(capacity: 1)
  let stopping = Atomic<Bool>(false)
  /// Nanoseconds the callback keeps the loop thread busy after posting the reply (diagnostic:
  /// Core's loop thread goes on with the rest of its turn after answering a call).
  let busyAfterReplyNanos = Atomic<UInt64>(0)
  init() { uv_sem_init(reply, 0) }
  deinit {
    uv_sem_destroy(reply)
    reply.deallocate()
  }
}

/// A bare libuv loop on its own thread with one uv_async_t.
private final class RawLoop: @unchecked Sendable {
  let loop = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
  let async = UnsafeMutablePointer<uv_async_t>.allocate(capacity: 1)
  let context = AsyncContext()
  private let finished = DispatchSemaphore(value: 0)

  init() {
    uv_loop_init(loop)
    uv_async_init(loop, async) { handle in
      guard let handle, let data = handle.pointee.data else { return }
      let ctx = Unmanaged<AsyncContext>.fromOpaque(data).takeUnretainedValue()
      if ctx.stopping.load(ordering: .acquiring) {
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self), nil)
      }
      uv_sem_post(ctx.reply)
      let busy = ctx.busyAfterReplyNanos.load(ordering: .relaxed)
      if busy > 0 { spin(nanos: busy) }
    }
    async.pointee.data = Unmanaged.passUnretained(context).toOpaque()
    nonisolated(unsafe) let loop = self.loop
    let finished = self.finished
    let thread = Thread {
      uv_run(loop, UV_RUN_DEFAULT)
      finished.signal()
    }
    thread.name = "raw-loop"
    thread.start()
  }

  func shutdown() {
    context.stopping.store(true, ordering: .releasing)
    uv_async_send(async)
    finished.wait()
    uv_sem_wait(context.reply)
    uv_loop_close(loop)
    loop.deallocate()
    async.deallocate()
  }
}

/// Two threads bouncing two semaphores (no libuv at all): the price of putting a thread to sleep
/// and waking it, twice per round trip.
private final class PingPongPartner: @unchecked Sendable {
  let request = UnsafeMutablePointer<uv_sem_t>.allocate(capacity: 1)
  let reply = UnsafeMutablePointer<uv_sem_t>.allocate(capacity: 1)
  let stopping = Atomic<Bool>(false)
  private let finished = DispatchSemaphore(value: 0)

  init() {
    uv_sem_init(request, 0)
    uv_sem_init(reply, 0)
    let thread = Thread { [self] in
      while true {
        uv_sem_wait(request)
        if stopping.load(ordering: .acquiring) { break }
        uv_sem_post(reply)
      }
      finished.signal()
    }
    thread.name = "ping-pong"
    thread.start()
  }

  func shutdown() {
    stopping.store(true, ordering: .releasing)
    uv_sem_post(request)
    finished.wait()
    uv_sem_destroy(request)
    uv_sem_destroy(reply)
    request.deallocate()
    reply.deallocate()
  }
}

/// The bare primitives, measured round trip by round trip so rt-bench can interleave them with
/// Core.sync() and all three see the same machine conditions.
final class RawFloor {
  private let raw = RawLoop()
  private let partner = PingPongPartner()

  /// uv_async_send, then block in uv_sem_wait until the loop thread's callback posts: exactly the
  /// wake-up path of Core.sync() with nothing else (no mailbox, no closure, no Waiter allocation).
  @inline(__always)
  func asyncSemaphoreRoundTrip() -> UInt64 {
    let t0 = monotonicNanos()
    uv_async_send(raw.async)
    uv_sem_wait(raw.context.reply)
    return monotonicNanos() - t0
  }

  /// asyncSemaphoreRoundTrip with extra busy time on one side, to see which side's extra work
  /// moves a woken thread to another (idle) CPU: `callerAfterSend` runs between uv_async_send
  /// and uv_sem_wait, `loopAfterReply` on the loop thread after it posts the reply.
  func asyncSemaphoreRoundTrip(callerAfterSend: UInt64, loopAfterReply: UInt64) -> UInt64 {
    raw.context.busyAfterReplyNanos.store(loopAfterReply, ordering: .relaxed)
    let t0 = monotonicNanos()
    uv_async_send(raw.async)
    if callerAfterSend > 0 { spin(nanos: callerAfterSend) }
    uv_sem_wait(raw.context.reply)
    let elapsed = monotonicNanos() - t0
    raw.context.busyAfterReplyNanos.store(0, ordering: .relaxed)
    return elapsed
  }

  /// Post the partner's semaphore, wait on ours.
  @inline(__always)
  func pingPongRoundTrip() -> UInt64 {
    let t0 = monotonicNanos()
    uv_sem_post(partner.request)
    uv_sem_wait(partner.reply)
    return monotonicNanos() - t0
  }

  func shutdown() {
    raw.shutdown()
    partner.shutdown()
  }
}

/// Busy-waits for about `nanos` nanoseconds.
@inline(__always)
func spin(nanos: UInt64) {
  let end = monotonicNanos() + nanos
  while monotonicNanos() < end {}
}
