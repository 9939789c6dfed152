import CLibUV
import Synchronization

/// A multi-producer, single-consumer queue into the loop thread: any thread posts, the loop
/// thread receives everything posted since its last turn in one batch.
///
/// Producers take a short lock and wake the loop only when the queue goes from empty to
/// non-empty; the consumer swaps the whole array out, so the lock is never held while items run.
final class Inbox<Item: Sendable>: @unchecked Sendable {
  private struct State {
    var items: [Item] = []
    var waker: LoopWaker?
  }
  private let state = Locked(State())
  // Mirrors "items is non-empty" so the loop can poll for work without taking the lock.
  private let nonEmpty = Atomic<Bool>(false)
  // Loop-thread only: the spare array swapped in on each drain keeps its capacity between turns.
  nonisolated(unsafe) private var spare: [Item] = []
  nonisolated(unsafe) private var handler: (([Item]) -> Void)?

  init() {}

  /// Starts accepting items on `loop`; `handler` runs on the loop thread with each batch.
  func open(
    loop: UnsafeMutablePointer<uv_loop_t>, keepsLoopAlive: Bool,
    handler: @escaping ([Item]) -> Void
  ) throws(RealtimeError) {
    self.handler = handler
    let waker = try LoopWaker(loop: loop, keepsLoopAlive: keepsLoopAlive) { [unowned self] in
      self.drain()
    }
    state.withLock { $0.waker = waker }
  }

  /// Queues `item` for the loop thread. Returns false, dropping nothing silently, when the inbox is
  /// closed (the caller reports that). Any thread.
  func post(_ item: Item) -> Bool {
    state.withLock { state in
      guard let waker = state.waker else { return false }
      state.items.append(item)
      if state.items.count == 1 {
        nonEmpty.store(true, ordering: .releasing)
        waker.send()
      }
      return true
    }
  }

  /// Runs the handler on everything queued so far. Loop thread.
  @discardableResult
  func drain() -> Int {
    // Take the spare out first, so after the swap the queue holds its buffer uniquely and
    // producers append into it without copying.
    var batch: [Item] = []
    swap(&batch, &spare)
    state.withLock {
      nonEmpty.store(false, ordering: .relaxed)
      swap(&$0.items, &batch)
    }
    let count = batch.count
    if count > 0 { handler?(batch) }
    batch.removeAll(keepingCapacity: true)
    spare = batch
    return count
  }

  /// Whether items are waiting; a lock-free hint for polling. Any thread.
  var hasItems: Bool { nonEmpty.load(ordering: .acquiring) }

  /// Stops accepting items and closes the wake-up handle; items already queued stay for a last
  /// `drain()`. Loop thread.
  func close() {
    let waker = state.withLock { state -> LoopWaker? in
      defer { state.waker = nil }
      return state.waker
    }
    waker?.close()
  }
}
