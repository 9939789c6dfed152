// Presence churn: MEMBERS host subscriptions watch one presence channel while entries join and
// leave at RATE per second for SECONDS, through the host API (rt_presence_set/clear: each call
// a hop to the loop thread) from two threads, paced every 10 ms: the loop thread's CPU time (the engine's cost:
// the bookkeeping, the diffs, handing each to every member) and the whole process's (with the
// driver's hops), and what each member receives. The channel has more than 100 subscribers, so
// its diffs are coalesced to one per second.
import Foundation
import RealtimeCore

extension RTBench {
  func runPresence() throws -> [String: Any] {
    let members = presenceMembers
    let rate = presenceRate
    let seconds = presenceSeconds
    let core = try Core(config: CoreConfig(databasePath: nil, durability: .off))
    try core.start()
    defer { try? core.close() }
    var options = NamespaceOptions(persistent: false)
    options.presence = true
    try core.configure(namespace: "room", options)

    final class Counts: @unchecked Sendable {
      var diffs = 0
      var bytes = 0
      var entries = 0
    }
    let counts = (0..<members).map { _ in Counts() }
    var subscriptions: [HostSubscription] = []
    for (index, count) in counts.enumerated() {
      subscriptions.append(
        try core.subscribe(
          channel: "room:churn",
          presence: { diff in
            count.diffs += 1
            count.bytes += diff.data.count
            // Every member gets the same diff: the first one counts its entries (one "user" key
            // each) for all, so the members' own work stays small beside the engine's.
            guard index == 0 else { return }
            diff.data.withUnsafeBufferPointer { p in
              var i = 0
              while i + 7 <= p.count {
                if p[i] == 0x22 && p[i + 1] == 0x75 && p[i + 2] == 0x73 && p[i + 5] == 0x22 && p[i + 6] == 0x3A {
                  count.entries += 1
                }
                i += 1
              }
            }
          }
        ) { _ in })
    }
    // A standing population of 1,000 entries; each batch replaces the oldest with new ones.
    let population = 1_000
    for n in 0..<population {
      try core.setPresence(channel: "room:churn", user: "u\(n)", client: "c", leaseMs: 600_000)
    }
    try core.sync()
    for count in counts { (count.diffs, count.bytes, count.entries) = (0, 0, 0) }

    let perBatch = max(rate / 100, 1)
    let batches = seconds * 100
    var next = population
    var oldest = 0
    let cpuBefore = processCPUSeconds()
    let loopBefore = threadCPUSeconds(named: "rt-loop")
    let start = Date()
    for batch in 0..<batches {
      // Half joins, half leaves: the population stays the same size. Two driver threads, as two
      // of a host's request threads would: one hop at a time could not keep up the rate.
      let (joinFrom, leaveFrom, half) = (next, oldest, perBatch / 2)
      DispatchQueue.concurrentPerform(iterations: 2) { part in
        for k in stride(from: part, to: half, by: 2) {
          try? core.setPresence(channel: "room:churn", user: "u\(joinFrom + k)", client: "c", leaseMs: 600_000)
          try? core.clearPresence(channel: "room:churn", user: "u\(leaveFrom + k)", client: "c")
        }
      }
      next += perBatch / 2
      oldest += perBatch / 2
      let due = start.addingTimeInterval(Double(batch + 1) / 100)
      let wait = due.timeIntervalSinceNow
      if wait > 0 { Thread.sleep(forTimeInterval: wait) }
    }
    let elapsed = Date().timeIntervalSince(start)
    // The last coalesced diff goes out within a second; rates are over the churn's time.
    Thread.sleep(forTimeInterval: 1.2)
    try core.sync()
    let cpu = processCPUSeconds() - cpuBefore
    let loopCPU = threadCPUSeconds(named: "rt-loop") - loopBefore
    for subscription in subscriptions { try core.unsubscribe(subscription) }
    let changes = batches * (perBatch / 2) * 2
    let diffsPerMember = Double(counts.map(\.diffs).reduce(0, +)) / Double(members)
    let entriesPerMember = Double(counts[0].entries)
    let bytesPerMember = Double(counts.map(\.bytes).reduce(0, +)) / Double(members)
    let line = String(
      format:
        "presence: %d changes/s (%d joins + leaves in %.2f s) in a channel of %d members: loop thread CPU %.2f s (%.0f%% of one core), process %.2f s; each member got %.2f diffs/s holding %.0f entries/s (%.0f KiB/s)",
      rate, changes, elapsed, members, loopCPU, loopCPU / elapsed * 100, cpu, diffsPerMember / elapsed,
      entriesPerMember / elapsed, bytesPerMember / elapsed / 1024)
    print(line)
    return [
      "changes_per_second": rate, "changes": changes, "members": members, "seconds": elapsed, "cpu_seconds": cpu,
      "loop_thread_cpu_seconds": loopCPU, "loop_thread_cpu_percent": loopCPU / elapsed * 100,
      "cpu_percent_of_one_core": cpu / elapsed * 100, "diffs_per_member_per_second": diffsPerMember / elapsed,
      "entries_per_member_per_second": entriesPerMember / elapsed,
      "bytes_per_member_per_second": bytesPerMember / elapsed,
    ]
  }
}

/// User + system CPU time of the thread named `name` (the first one), in seconds, from
/// /proc/self/task/*/stat; 0 when there is none.
func threadCPUSeconds(named name: String) -> Double {
  let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
  for task in tasks {
    let comm = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? ""
    guard comm.trimmingCharacters(in: .whitespacesAndNewlines) == name,
      let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { continue }
    // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
  }
  return 0
}

/// User + system CPU time of this process, in seconds.
func processCPUSeconds() -> Double {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
    + Double(usage.ru_stime.tv_usec) / 1e6
}
