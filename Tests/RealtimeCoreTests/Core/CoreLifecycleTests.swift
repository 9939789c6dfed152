import CLibUV
import Foundation
import Testing

@testable import RealtimeCore

@Suite struct CoreLifecycleTests {
  @Test func startStopManyTimes() throws {
    let core = try Core(config: CoreConfig())
    for _ in 0..<100 {
      try core.start()
      try core.sync()
      try core.stop()
    }
    try core.stop()  // stopping a stopped core is fine
    try core.close()
    try core.close()  // and so is closing twice
  }

  @Test func startingTwiceIsAStateError() throws {
    let core = try Core(config: CoreConfig())
    try core.start()
    #expect { try core.start() } throws: { ($0 as? RealtimeError)?.code == .state }
    try core.close()
    #expect { try core.start() } throws: { ($0 as? RealtimeError)?.code == .closed }
  }

  @Test func callsNeedARunningLoop() throws {
    let core = try Core(config: CoreConfig())
    #expect { try core.sync() } throws: { ($0 as? RealtimeError)?.code == .state }
    #expect { try core.append(stream: "s", payload: []) { _ in } } throws: {
      ($0 as? RealtimeError)?.code == .state
    }
    try core.close()
  }

  @Test func blockingCallsAreRefusedOnTheLoopThread() throws {
    let core = try Core(config: CoreConfig())
    try core.start()
    let seen = Collector<ErrorCode?>()
    let done = Countdown(1)
    try core.append(stream: "s", payload: []) { _ in
      // Completions run on the loop thread: waiting there for the loop would deadlock.
      do {
        try core.sync()
        seen.add(nil)
      } catch { seen.add((error as? RealtimeError)?.code) }
      do {
        try core.stop()
        seen.add(nil)
      } catch { seen.add((error as? RealtimeError)?.code) }
      done.tick()
    }
    done.wait()
    #expect(seen.all == [.state, .state])
    try core.close()
  }

  @Test func stopFinishesQueuedAppendsFirst() throws {
    let dir = try TempDir()
    let core = try Core(config: CoreConfig(databasePath: dir.file("q.db")))
    try core.start()
    let acks = Collector<UInt64>()
    for i in 0..<500 {
      try core.append(stream: "s", payload: [UInt8(i & 0xff)]) { acks.add((try? $0.get()) ?? 0) }
    }
    try core.stop()
    #expect(acks.all.sorted() == Array(1...500), "every append posted before stop is committed and acknowledged")
    #expect(try core.read(stream: "s", after: 0, limit: 1000).count == 500)
    try core.close()
  }

  @Test func attachedToAHostLoop() throws {
    let core = try Core(config: CoreConfig())
    let loop = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
    defer { loop.deallocate() }
    #expect(uv_loop_init(loop) == 0)
    try core.attach(loop: loop)
    #expect { try core.attach(loop: loop) } throws: { ($0 as? RealtimeError)?.code == .state }
    // The core's handles are unreferenced: the host loop exits when it has nothing of its own.
    uv_run(loop, UV_RUN_DEFAULT)

    // A host keeps its loop alive with handles of its own (here one that never fires); while it
    // runs, a call from another thread is served on the host's thread.
    let hostHandle = UnsafeMutablePointer<uv_async_t>.allocate(capacity: 1)
    #expect(uv_async_init(loop, hostHandle, nil) == 0)
    let finished = Collector<Bool>()
    let caller = Thread {
      do {
        try core.sync()
        finished.add(true)
      } catch { finished.add(false) }
    }
    caller.start()
    while finished.all.isEmpty { uv_run(loop, UV_RUN_NOWAIT) }
    #expect(finished.all == [true])
    uv_close(UnsafeMutableRawPointer(hostHandle).assumingMemoryBound(to: uv_handle_t.self)) {
      UnsafeMutableRawPointer($0)?.deallocate()
    }

    try core.stop()  // on the loop thread: synchronous
    uv_run(loop, UV_RUN_DEFAULT)  // let the closing handles finish
    #expect(uv_loop_close(loop) == 0, "no handle of the core may remain on the host loop")
    try core.close()
  }
}

@Suite struct DurableLogTests {
  @Test func seqsAreGaplessPerStreamAcrossThreads() throws {
    let core = try Core(config: CoreConfig())
    try core.start()
    let acks = Collector<(String, UInt64)>()
    let done = Countdown(4 * 250)
    DispatchQueue.concurrentPerform(iterations: 4) { t in
      let stream = "s\(t % 2)"
      for i in 0..<250 {
        try! core.append(stream: stream, payload: [UInt8(t), UInt8(i & 0xff)]) {
          acks.add((stream, try! $0.get()))
          done.tick()
        }
      }
    }
    done.wait()
    for stream in ["s0", "s1"] {
      #expect(acks.all.filter { $0.0 == stream }.map(\.1).sorted() == Array(1...500))
      let rows = try core.read(stream: stream, after: 0, limit: 1000)
      #expect(rows.map(\.seq) == Array(1...500))
    }
    try core.close()
  }

  @Test func oneTurnOfAppendsIsOneTransaction() throws {
    let dir = try TempDir()
    let core = try Core(config: CoreConfig(databasePath: dir.file("g.db")))
    try core.start()
    let before = try core.transactions()
    let done = Countdown(1)
    // One job = one loop turn: 1,000 appends from it must commit together.
    try core.post {
      for i in 0..<1000 { core.engine.log.append(stream: "g", payload: [UInt8(i & 0xff)]) { _ in } }
      done.tick()
    }
    done.wait()
    try core.sync()
    let used = try core.transactions() - before
    #expect(used == 1)
    try core.close()
  }

  @Test func badInputIsRefusedAndNothingIsStored() throws {
    let core = try Core(config: CoreConfig())
    try core.start()
    let empty = try appendAndWait(core, "", [1])
    #expect(throws: RealtimeError.self) { try empty.get() }
    let longName = String(repeating: "x", count: DurableLog.maxStreamNameBytes + 1)
    #expect(throws: RealtimeError.self) { try appendAndWait(core, longName, [1]).get() }
    let huge = [UInt8](repeating: 0, count: DurableLog.maxPayloadBytes + 1)
    #expect(throws: RealtimeError.self) { try appendAndWait(core, "s", huge).get() }
    #expect(throws: RealtimeError.self) { try core.read(stream: "s", after: 0, limit: 0) }
    #expect(throws: RealtimeError.self) { try core.read(stream: "s", after: UInt64.max, limit: 1) }
    #expect(try core.read(stream: "s", after: 0, limit: 10).isEmpty)
    #expect(try appendAndWait(core, "s", []).get() == 1, "an empty payload is a valid entry")
    try core.close()
  }

  @Test func durabilityOffAcknowledgesBeforeCommitAndStillStores() throws {
    let dir = try TempDir()
    let core = try Core(config: CoreConfig(databasePath: dir.file("off.db"), durability: .off))
    try core.start()
    #expect(try appendAndWait(core, "s", [7]).get() == 1)
    try core.sync()
    #expect(try core.read(stream: "s", after: 0, limit: 1).map(\.payload) == [[7]])
    try core.close()
  }
}

extension Core {
  /// Transactions the store's writer has committed.
  func transactions() throws -> UInt64 { store.writer.committedTransactions.load(ordering: .relaxed) }
}
