import CLibUV

/// Everything a core does on its loop thread. Confined: its members are touched only on the
/// loop thread while the core runs, and only under the core's lifecycle lock while it is stopped.
final class Engine: @unchecked Sendable {
  typealias Job = @Sendable () -> Void

  /// Calls from other threads, run in order on the loop thread.
  let mailbox = Inbox<Job>()
  let log: DurableLog
  let sink: LogSink
  private var turnEnd: TurnEndHook?
  private var stopRequested = false
  private(set) var isRunning = false

  init(store: Store, log sink: LogSink) {
    self.log = DurableLog(store: store, log: sink)
    self.sink = sink
  }

  /// Installs the engine's handles on `loop`. Loop thread. `keepsLoopAlive` is true on the core's
  /// own loop (its mailbox keeps it running until stop) and false on a host's loop.
  func begin(on loop: UnsafeMutablePointer<uv_loop_t>, keepsLoopAlive: Bool) throws(RealtimeError) {
    stopRequested = false
    try mailbox.open(loop: loop, keepsLoopAlive: keepsLoopAlive) { [unowned self] jobs in
      for job in jobs { job() }
      // Stop only after the whole batch ran, so no job posted before the stop is skipped.
      if self.stopRequested { self.shutdown() }
    }
    do {
      try log.open(loop: loop)
      let log = self.log
      turnEnd = try TurnEndHook(loop: loop) { log.flush() }
    } catch {
      mailbox.close()
      log.drainAndClose()
      throw error
    }
    isRunning = true
    sink(.debug, "engine running")
  }

  /// Asks the loop to shut down after the jobs already queued. Loop thread (from a job).
  func requestStop() { stopRequested = true }

  /// Runs what is queued, commits every pending write, delivers every acknowledgement, then closes
  /// the engine's handles. Loop thread. Afterwards new calls are refused with `.closed`/`.state`.
  func shutdown() {
    guard isRunning else { return }
    isRunning = false
    mailbox.close()
    mailbox.drain()
    log.drainAndClose()
    turnEnd?.close()
    turnEnd = nil
    sink(.debug, "engine stopped")
  }
}
