import CLibUV
import Foundation
import Testing

@testable import RealtimeCore

/// Runs an owned libuv loop on a thread of its own until its handles are closed.
private func runLoop(_ setUp: @escaping @Sendable (UnsafeMutablePointer<uv_loop_t>) -> Void) throws -> LoopThread {
  let loop = try EventLoop.makeOwned()
  let ready = DispatchSemaphore(value: 0)
  let thread = try LoopThread(name: "test loop") {
    setUp(loop.raw)
    ready.signal()
    loop.run()
  }
  ready.wait()
  return thread
}

@Suite struct InboxTests {
  @Test func everyItemFromManyProducersArrivesOnceAndInProducerOrder() throws {
    let producers = 8
    let perProducer = 5_000
    let inbox = Inbox<(producer: Int, index: Int)>()
    let received = Collector<(producer: Int, index: Int)>()
    let handlerThread = Collector<Bool>()
    nonisolated(unsafe) var loopThreadID: ThreadID?
    var thread = try runLoop { loop in
      loopThreadID = .current
      try! inbox.open(loop: loop, keepsLoopAlive: true) { batch in
        handlerThread.add(loopThreadID?.isCurrent ?? false)
        for item in batch { received.add(item) }
        if received.all.count == producers * perProducer { inbox.close() }
      }
    }
    DispatchQueue.concurrentPerform(iterations: producers) { p in
      for i in 0..<perProducer { #expect(inbox.post((p, i))) }
    }
    thread.join()  // the loop ends once the inbox closed its handle

    let items = received.all
    #expect(items.count == producers * perProducer)
    for p in 0..<producers {
      #expect(items.filter { $0.producer == p }.map(\.index) == Array(0..<perProducer))
    }
    #expect(handlerThread.all.allSatisfy { $0 }, "the handler must run on the loop thread")
  }

  @Test func postAfterCloseIsRefused() throws {
    let inbox = Inbox<Int>()
    #expect(!inbox.post(1), "an inbox that was never opened accepts nothing")
    var thread = try runLoop { loop in
      try! inbox.open(loop: loop, keepsLoopAlive: true) { _ in }
      inbox.close()
    }
    thread.join()
    #expect(!inbox.post(2))
  }
}

@Suite struct WaiterTests {
  @Test func deliversTheValueAcrossThreads() throws {
    let waiter = try Waiter<Int>()
    var thread = try LoopThread(name: "fulfiller") { waiter.fulfill(42) }
    #expect(waiter.wait() == 42)
    thread.join()
  }
}
