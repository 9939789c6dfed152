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

enum RawFloor {
  /// uv_async_send, then block in uv_sem_wait until the loop thread's callback posts: exactly the
  /// wake-up path of Core.sync() with nothing else (no mailbox, no closure, no Waiter allocation).
  static func asyncSemaphore(count: Int, warmup: Int) -> Histogram<UInt64> {
    let raw = RawLoop()
    defer { raw.shutdown() }
    var histogram = makeLatencyHistogram()
    for i in 0..<(warmup + count) {
      let t0 = monotonicNanos()
      uv_async_send(raw.async)
      uv_sem_wait(raw.context.reply)
      let t1 = monotonicNanos()
      if i >= warmup { _ = histogram.record(t1 - t0) }
    }
    return histogram
  }

  /// Two threads bouncing two semaphores (no libuv at all): the price of putting a thread to
  /// sleep and waking it, twice per round trip.
  static func semaphorePingPong(count: Int, warmup: Int) -> Histogram<UInt64> {
    let request = UnsafeMutablePointer<uv_sem_t>.allocate(capacity: 1)
    let reply = UnsafeMutablePointer<uv_sem_t>.allocate(capacity: 1)
    uv_sem_init(request, 0)
    uv_sem_init(reply, 0)
    let total = warmup + count
    nonisolated(unsafe) let req = request
    nonisolated(unsafe) let rep = reply
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
      for _ in 0..<total {
        uv_sem_wait(req)
        uv_sem_post(rep)
      }
      done.signal()
    }
    thread.start()
    var histogram = makeLatencyHistogram()
    for i in 0..<total {
      let t0 = monotonicNanos()
      uv_sem_post(request)
      uv_sem_wait(reply)
      let t1 = monotonicNanos()
      if i >= warmup { _ = histogram.record(t1 - t0) }
    }
    done.wait()
    uv_sem_destroy(request)
    uv_sem_destroy(reply)
    request.deallocate()
    reply.deallocate()
    return histogram
  }
}
