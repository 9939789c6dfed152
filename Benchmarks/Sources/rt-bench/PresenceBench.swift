// Presence churn: MEMBERS host subscriptions watch one presence channel while entries join and
// leave at RATE per second for SECONDS, driven on the loop in batches every 10 ms (100 changes
// per batch at 10,000/s): the process's CPU time for it, and what each member receives (diffs
// per second and entries per diff). The channel has more than 100 subscribers, so its diffs are
// coalesced to one per second.
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
    for count in counts {
      subscriptions.append(
        try core.subscribe(
          channel: "room:churn",
          presence: { diff in
            count.diffs += 1
            count.bytes += diff.data.count
            // Entries in the diff: one "user" key each.
            var n = 0
            var i = diff.data.startIndex
            let needle = Array(#""user":"#.utf8)
            while i + needle.count <= diff.data.endIndex {
              if diff.data[i] == needle[0] && diff.data[i..<(i + needle.count)].elementsEqual(needle) { n += 1 }
              i += 1
            }
            count.entries += n
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
    let start = Date()
    for batch in 0..<batches {
      let (first, firstOld) = (next, oldest)
      try core.perform { _ throws(RealtimeError) in
        // Half joins, half leaves: the population stays the same size.
        for k in 0..<(perBatch / 2) {
          try core.setPresence(channel: "room:churn", user: "u\(first + k)", client: "c", leaseMs: 600_000)
          try core.clearPresence(channel: "room:churn", user: "u\(firstOld + k)", client: "c")
        }
      }
      next += perBatch / 2
      oldest += perBatch / 2
      let due = start.addingTimeInterval(Double(batch + 1) / 100)
      let wait = due.timeIntervalSinceNow
      if wait > 0 { Thread.sleep(forTimeInterval: wait) }
    }
    // The last coalesced diff goes out within a second.
    Thread.sleep(forTimeInterval: 1.2)
    try core.sync()
    let elapsed = Date().timeIntervalSince(start)
    let cpu = processCPUSeconds() - cpuBefore
    for subscription in subscriptions { try core.unsubscribe(subscription) }
    let changes = batches * (perBatch / 2) * 2
    let diffsPerMember = Double(counts.map(\.diffs).reduce(0, +)) / Double(members)
    let entriesPerMember = Double(counts.map(\.entries).reduce(0, +)) / Double(members)
    let bytesPerMember = Double(counts.map(\.bytes).reduce(0, +)) / Double(members)
    let line = String(
      format:
        "presence: %d changes/s (%d joins + leaves in %.1f s) in a channel of %d members: CPU %.2f s (%.0f%% of one core), each member got %.1f diffs/s holding %.0f entries/s (%.0f KiB/s)",
      rate, changes, elapsed, members, cpu, cpu / elapsed * 100, diffsPerMember / elapsed, entriesPerMember / elapsed,
      bytesPerMember / elapsed / 1024)
    print(line)
    return [
      "changes_per_second": rate, "changes": changes, "members": members, "seconds": elapsed, "cpu_seconds": cpu,
      "cpu_percent_of_one_core": cpu / elapsed * 100, "diffs_per_member_per_second": diffsPerMember / elapsed,
      "entries_per_member_per_second": entriesPerMember / elapsed,
      "bytes_per_member_per_second": bytesPerMember / elapsed,
    ]
  }
}

/// User + system CPU time of this process, in seconds.
func processCPUSeconds() -> Double {
  var usage = rusage()
  getrusage(RUSAGE_SELF, &usage)
  return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
    + Double(usage.ru_stime.tv_usec) / 1e6
}
