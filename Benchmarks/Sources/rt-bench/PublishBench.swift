// Persistent channel publishes with durability full: how many a second reach every subscriber
// after their group commit, issued all at once from several threads (the way many clients
// publish at the same time), with and without host subscribers.
import BenchSupport
import Foundation
import RealtimeCore

enum PublishBench {
  struct Run {
    let mode: String
    let publishes: Int
    let subscribers: Int
    let seconds: Double
    let delivered: Int
    var perSecond: Double { Double(publishes) / seconds }
  }

  /// Publishes `count` 64-byte messages to one persistent channel from `producers` threads
  /// without waiting between them; timed from the first publish to the last acknowledgement
  /// (each acknowledged only once committed with `synchronous=FULL` and delivered). With
  /// `sealedAtRest`, a master key is loaded first, so the writer seals every stored message.
  static func run(
    path: String, count: Int, producers: Int, subscribers: Int, mode: String, sealedAtRest: Bool = false
  ) throws -> Run {
    let core = try Core(config: CoreConfig(databasePath: path, durability: .full))
    if sealedAtRest { try core.keyring.add(id: 1, key: [UInt8](repeating: 0x5A, count: 32)) }
    try core.start()
    defer { try? core.close() }
    let channel = "bench-\(mode)"
    let delivered = Locked(0)
    var subscriptions: [HostSubscription] = []
    for _ in 0..<subscribers {
      subscriptions.append(try core.subscribe(channel: channel) { _ in delivered.withLock { $0 += 1 } })
    }
    // Warm up: the channel's stream exists and its first commit is behind us.
    _ = try core.publish(channel: channel, data: StoreBench.payload)
    delivered.withLock { $0 = 0 }
    let gate = AckGate(expecting: count)
    let go = DispatchSemaphore(value: 0)
    let group = DispatchGroup()
    let failed = Locked<RealtimeError?>(nil)
    for p in 0..<producers {
      let share = count / producers + (p < count % producers ? 1 : 0)
      group.enter()
      let thread = Thread {
        defer { group.leave() }
        go.wait()
        for _ in 0..<share {
          do throws(RealtimeError) {
            try core.publish(channel: channel, data: StoreBench.payload) { result in
              gate.ack(result.map(\.offset))
            }
          } catch {
            failed.withLock { if $0 == nil { $0 = error } }
          }
        }
      }
      thread.start()
    }
    let start = monotonicNanos()
    for _ in 0..<producers { go.signal() }
    group.wait()
    if let error = failed.value { throw error }
    try gate.wait()
    let seconds = Double(monotonicNanos() - start) / 1e9
    try core.sync()
    for subscription in subscriptions { try core.unsubscribe(subscription) }
    return Run(
      mode: mode, publishes: count, subscribers: subscribers, seconds: seconds, delivered: delivered.value)
  }
}
