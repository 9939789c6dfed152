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
  private var loop: UnsafeMutablePointer<uv_loop_t>?
  private var timers: [ObjectIdentifier: LoopTimer] = [:]
  private var stopRequested = false
  // Set when a turn ran cross-thread work; the loop then polls briefly before it sleeps.
  private var busy = false

  /// How long the loop keeps polling its inboxes after a turn that had cross-thread work, before
  /// it blocks. Calls tend to come in runs (a caller waits for one answer, then sends the next);
  /// catching the next one while awake saves a wake-up that costs tens of microseconds on a virtual
  /// machine. Bounded, and never spent by an idle loop.
  static let pollNanoseconds: UInt64 = 50_000
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
      self.busy = true
      for job in jobs { job() }
      // Stop only after the whole batch ran, so no job posted before the stop is skipped.
      if self.stopRequested { self.shutdown() }
    }
    do {
      try log.open(loop: loop)
      let log = self.log
      turnEnd = try TurnEndHook(
        loop: loop, body: { log.flush() },
        beforeBlocking: { [unowned self] in self.pollBeforeBlocking() })
    } catch {
      mailbox.close()
      log.drainAndClose()
      throw error
    }
    self.loop = loop
    isRunning = true
    sink(.debug, "engine running")
  }

  /// After a busy turn, polls the inboxes for a short while and serves what arrives, instead of
  /// letting the loop sleep at once.
  private func pollBeforeBlocking() {
    guard busy, isRunning else { return }
    busy = false
    var deadline = uv_hrtime() &+ Engine.pollNanoseconds
    var polls = 0
    while isRunning {
      if mailbox.hasItems || log.hasOutcomes {
        mailbox.drain()
        log.deliverOutcomes()
        log.flush()
        deadline = uv_hrtime() &+ Engine.pollNanoseconds
        continue
      }
      polls &+= 1
      if polls & 63 == 0 && uv_hrtime() >= deadline { return }
    }
  }

  /// Runs `body` on the loop thread after `delay` ms, then every `interval` ms if not 0, until the
  /// returned timer is cancelled or the engine stops. Loop thread.
  @discardableResult
  func schedule(after delay: UInt64, every interval: UInt64 = 0, _ body: @escaping () -> Void)
    throws(RealtimeError) -> LoopTimer
  {
    guard isRunning, let loop else { throw RealtimeError(.closed, "the core is stopping") }
    let timer = try LoopTimer(loop: loop) { [unowned self] in self.timers[ObjectIdentifier($0)] = nil }
    timers[ObjectIdentifier(timer)] = timer
    timer.start(after: delay, every: interval, body)
    return timer
  }

  /// The loop's clock in milliseconds (libuv's cached time). Loop thread.
  var now: UInt64 { loop.map(LoopTimer.now) ?? 0 }

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
    for timer in Array(timers.values) { timer.cancel() }
    turnEnd?.close()
    turnEnd = nil
    loop = nil
    sink(.debug, "engine stopped")
  }
}
