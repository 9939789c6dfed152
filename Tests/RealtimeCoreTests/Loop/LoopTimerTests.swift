import Foundation
import Testing

@testable import RealtimeCore

@Suite struct LoopTimerTests {
  @Test func aOneShotTimerFiresOnTheLoopThreadNoEarlierThanAsked() throws {
    let core = try Core(config: CoreConfig())
    try core.start()
    let fired = Collector<UInt64>()
    let done = Countdown(1)
    let scheduledAt = Collector<UInt64>()
    try core.post {
      scheduledAt.add(core.engine.now)
      try! core.engine.schedule(after: 30) {
        fired.add(core.engine.now)
        done.tick()
      }
    }
    done.wait()
    #expect(fired.all.count == 1)
    #expect(fired.all[0] >= scheduledAt.all[0] + 30)
    try core.close()
  }

  @Test func aRepeatingTimerRunsUntilCancelled() throws {
    let core = try Core(config: CoreConfig())
    try core.start()
    let ticks = Collector<Int>()
    let done = Countdown(1)
    try core.post {
      var count = 0
      var timer: LoopTimer?
      timer = try! core.engine.schedule(after: 1, every: 1) {
        count += 1
        ticks.add(count)
        if count == 5 {
          timer?.cancel()
          done.tick()
        }
      }
    }
    done.wait()
    try core.sync()  // a later turn: a cancelled timer would have fired again by now if it could
    #expect(ticks.all == [1, 2, 3, 4, 5])
    try core.close()
  }

  @Test func stoppingTheCoreCancelsPendingTimers() throws {
    let core = try Core(config: CoreConfig())
    try core.start()
    let fired = Collector<Bool>()
    let scheduled = Countdown(1)
    try core.post {
      try! core.engine.schedule(after: 3_600_000) { fired.add(true) }
      scheduled.tick()
    }
    scheduled.wait()
    try core.stop()  // returns although an hour-long timer was pending: it was closed
    #expect(fired.all.isEmpty)
    try core.start()  // and the loop starts again cleanly
    try core.close()
  }
}
