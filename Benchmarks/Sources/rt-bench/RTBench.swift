// rt-bench: the plain benchmark runner for RealtimeCore. Prints human-readable lines, then one
// JSON object (after a line "JSON:") with the same figures.
//
//   swift run -c release rt-bench [--appends 20000] [--per-append 500] [--round-trips 20000] ...
import ArgumentParser
import BenchSupport
import Foundation
import Histogram
import RealtimeCore

@main
struct RTBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rt-bench",
    abstract:
      "Measures RealtimeCore: durable appends per second (group commit vs one transaction per append) and the cross-thread round trip into the loop (Core.sync())."
  )

  @Option(help: "Appends in the group-commit burst.")
  var appends = 20_000

  @Option(
    help:
      "Appends in each per-append-transaction run (one at a time, and all at once); also the one-at-a-time group-commit run."
  )
  var perAppend = 500

  @Option(
    name: .customLong("rounds"),
    help: "Times to repeat the whole store sequence (same file); figures are each mode's median.")
  var storeRounds = 1

  @Option(help: "Threads issuing the burst runs.")
  var producers = 4

  @Option(help: "Timed Core.sync() round trips.")
  var roundTrips = 20_000

  @Option(help: "Untimed Core.sync() round trips first.")
  var warmup = 1_000

  @Option(
    help:
      "Directory for the database file (a fresh subdirectory is made in it and removed afterwards). Default: the system temp dir."
  )
  var dbDir: String?

  @Flag(help: "Keep the database directory afterwards.")
  var keep = false

  @Flag(help: "Skip the store benchmark.")
  var skipStore = false

  @Flag(help: "Skip the round-trip benchmark.")
  var skipLoop = false

  @Flag(help: "Skip the persistent channel publish benchmark.")
  var skipPublish = false

  @Option(help: "Publishes per persistent-publish run.")
  var publishes = 50_000

  @Option(help: "Host subscribers in the persistent-publish run with subscribers.")
  var publishSubscribers = 100

  @Flag(help: "Also run the persistent publish without subscribers with a master key loaded (sealed at rest).")
  var publishSealed = false

  @Flag(help: "Skip the CRDT benchmark (task record sync, file chunking).")
  var skipCrdt = false

  @Flag(help: "Skip the file document benchmark (write, sync, edit and re-sync through two cores).")
  var skipFiles = false

  @Option(help: "Size in MiB of the file the file benchmark writes and syncs.")
  var fileMiB = 64

  @Flag(help: "Skip the text CRDT benchmark (editing trace replay, snapshot, merge).")
  var skipText = false

  @Option(help: "The editing trace the text benchmark replays.")
  var textTrace = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../../Tests/Fixtures/editing-traces/automerge-paper.json.gz").standardizedFileURL.path

  @Option(help: "Replays of the editing trace; the best and the median are reported.")
  var textRounds = 7

  @Option(
    help:
      "Write the editing trace for Benchmarks/c/text_replay.c to PATH (binary edits) and PATH.end (the final text), then exit."
  )
  var textDump: String?

  @Flag(help: "Skip the presence churn benchmark.")
  var skipPresence = false

  @Option(help: "Presence churn: members watching the channel.")
  var presenceMembers = 1_000

  @Option(help: "Presence churn: joins + leaves per second.")
  var presenceRate = 10_000

  @Option(help: "Presence churn: seconds of churn.")
  var presenceSeconds = 5

  @Flag(help: "Skip the rate limiter benchmark.")
  var skipLimits = false

  @Option(help: "Checks per rate-limiter run.")
  var limitChecks = 20_000_000

  @Option(help: "Rate-limiter runs per key count; the best is reported.")
  var limitRounds = 3

  @Flag(help: "Skip the raw uv_async/semaphore floor measured beside the round trip.")
  var skipFloor = false

  @Option(
    help:
      "Diagnostic: also measure the bare floor with this many microseconds of extra work on the caller after uv_async_send, and separately on the loop thread after its reply (0: off)."
  )
  var placementBusy = 0.0

  func validate() throws {
    guard appends > 0, perAppend > 0, storeRounds > 0, producers > 0, roundTrips > 0, warmup >= 0 else {
      throw ValidationError("counts must be positive")
    }
  }

  func run() throws {
    if let textDump {
      try EditingTrace(path: textTrace).dump(to: textDump)
      return
    }
    var report: [String: Any] = [:]
    let machine = MachineInfo.collect(dbDir: dbDir ?? NSTemporaryDirectory())
    report["machine"] = machine.json
    print("rt-bench: \(machine.line)")

    if !skipStore {
      report["store"] = try runStore()
    }
    if !skipLoop {
      report["round_trip"] = try runLoop()
    }
    if !skipPublish {
      report["publish"] = try runPublish()
    }
    if !skipLimits {
      report["limits"] = try runLimits()
    }
    if !skipPresence {
      report["presence"] = try runPresence()
    }
    if !skipCrdt {
      report["crdt"] = try runCRDT()
    }
    if !skipFiles {
      report["files"] = try runFileSync(mebibytes: fileMiB)
    }
    if !skipText {
      report["text"] = try runText(tracePath: textTrace, rounds: textRounds)
    }

    let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
    print("JSON:")
    print(String(decoding: data, as: UTF8.self))
  }

  // MARK: store

  private func runStore() throws -> [String: Any] {
    let parent = dbDir ?? NSTemporaryDirectory()
    let dir = try makeTempDir(in: parent)
    defer { if !keep { try? FileManager.default.removeItem(atPath: dir) } }
    let path = dir + "/bench.db"
    print(
      "store: database \(path) (\(MachineInfo.filesystem(of: dir))), durability full, payload \(StoreBench.payload.count) B, \(producers) producer threads for bursts"
    )

    let contention = CPUContention()
    var rounds: [[AppendRun]] = []
    for round in 1...storeRounds {
      if storeRounds > 1 { print("store: round \(round) of \(storeRounds)") }
      rounds.append(try storeRound(path: path))
    }

    // Each mode's median over the rounds (the only value when --rounds is 1).
    let modes = rounds[0].map(\.mode)
    var medians: [String: AppendRun] = [:]
    for (index, mode) in modes.enumerated() {
      let sorted = rounds.map { $0[index] }.sorted { $0.appendsPerSecond < $1.appendsPerSecond }
      medians[mode] = sorted[sorted.count / 2]
    }
    let ratio = { (round: [AppendRun], mode: String) -> Double in
      let byMode = Dictionary(uniqueKeysWithValues: round.map { ($0.mode, $0.appendsPerSecond) })
      return byMode["group_commit_burst"]! / byMode[mode]!
    }
    let vsBurst = medianOf(rounds.map { ratio($0, "per_append_burst") })
    let vsSequential = medianOf(rounds.map { ratio($0, "per_append_one_at_a_time") })
    let qualifier = storeRounds > 1 ? " (median of \(storeRounds) rounds)" : ""
    print(
      "store: group commit / per-append transactions (both issued all at once): \(fmt(vsBurst, 1))x\(qualifier)  (target >= 20x: \(vsBurst >= 20 ? "met" : "NOT met"))"
    )
    print("store: group commit burst / per-append one at a time: \(fmt(vsSequential, 1))x\(qualifier)")

    func runJSON(_ run: AppendRun) -> [String: Any] {
      [
        "appends": run.appends, "seconds": run.seconds, "appends_per_second": run.appendsPerSecond,
        "us_per_append": run.microsPerAppend,
      ]
    }
    let othersBusy = contention.othersBusyPercent()
    let steal = contention.stealPercent()
    if let othersBusy, let steal {
      print(
        "store: meanwhile other processes kept \(fmt(othersBusy, 0))% of the CPUs busy; hypervisor steal \(fmt(steal, 0))%"
      )
    }
    var json: [String: Any] = [
      "other_processes_cpu_busy_percent": othersBusy ?? -1,
      "steal_percent": steal ?? -1,
      "database_filesystem": MachineInfo.filesystem(of: dir),
      "durability": "full",
      "payload_bytes": StoreBench.payload.count,
      "producers": producers,
      "rounds": storeRounds,
      "ratio_group_vs_per_append_burst": vsBurst,
      "ratio_group_vs_per_append_one_at_a_time": vsSequential,
      "target_ratio": 20,
      "target_met": vsBurst >= 20,
    ]
    for (mode, run) in medians { json[mode] = runJSON(run) }
    if storeRounds > 1 {
      json["each_round"] = rounds.map { round -> [String: Any] in
        var entry: [String: Any] = [
          "ratio_group_vs_per_append_burst": ratio(round, "per_append_burst"),
          "ratio_group_vs_per_append_one_at_a_time": ratio(round, "per_append_one_at_a_time"),
        ]
        for run in round { entry[run.mode] = runJSON(run) }
        return entry
      }
    }
    return json
  }

  /// One group-commit core, then one per-append-transaction core, on the same file.
  private func storeRound(path: String) throws -> [AppendRun] {
    var runs: [AppendRun] = []
    // 1. Group commit. A small untimed burst first (creates the stream on the first round).
    do {
      let core = try StoreBench.openCore(path: path, groupCommit: true)
      _ = try StoreBench.appendBurst(core, count: 200, producers: producers, mode: "warmup")
      runs.append(try StoreBench.appendBurst(core, count: appends, producers: producers, mode: "group_commit_burst"))
      report(runs.last!)
      runs.append(try StoreBench.appendSequential(core, count: perAppend, mode: "group_commit_one_at_a_time"))
      report(runs.last!)
      try core.close()
    }
    // 2. One transaction per append, same file, same process.
    do {
      let core = try StoreBench.openCore(path: path, groupCommit: false)
      _ = try StoreBench.appendSequential(core, count: 10, mode: "warmup")
      runs.append(try StoreBench.appendSequential(core, count: perAppend, mode: "per_append_one_at_a_time"))
      report(runs.last!)
      runs.append(try StoreBench.appendBurst(core, count: perAppend, producers: producers, mode: "per_append_burst"))
      report(runs.last!)
      try core.close()
    }
    return runs
  }

  private func report(_ run: AppendRun) {
    let mode = run.mode.padding(toLength: 27, withPad: " ", startingAt: 0)
    print(
      "store: \(mode) \(run.appends) appends in \(fmt(run.seconds, 3)) s = \(fmt(run.appendsPerSecond, 0)) appends/s (\(fmt(run.microsPerAppend, 1)) us/append)"
    )
  }

  // MARK: persistent publish

  private func runPublish() throws -> [String: Any] {
    let dir = try makeTempDir(in: dbDir ?? NSTemporaryDirectory())
    defer { if !keep { try? FileManager.default.removeItem(atPath: dir) } }
    var json: [String: Any] = [:]
    var modes = [("no_subscribers", 0, false), ("with_subscribers", publishSubscribers, false)]
    if publishSealed { modes.append(("sealed_at_rest", 0, true)) }
    // Rounds outermost, so plain and sealed runs alternate and share the machine's drift.
    var byMode: [String: [PublishBench.Run]] = [:]
    for round in 0..<storeRounds {
      for (mode, subscribers, sealed) in modes {
        byMode[mode, default: []].append(
          try PublishBench.run(
            path: dir + "/publish-\(mode)-\(round).db", count: publishes, producers: producers,
            subscribers: subscribers, mode: mode, sealedAtRest: sealed))
      }
    }
    for (mode, subscribers, _) in modes {
      let runs = byMode[mode] ?? []
      guard !runs.isEmpty else { continue }
      let run = runs.sorted { $0.perSecond < $1.perSecond }[runs.count / 2]
      print(
        "publish: \(mode) (\(subscribers) host subscribers): \(run.publishes) persistent publishes, durability full, in \(fmt(run.seconds, 3)) s = \(fmt(run.perSecond, 0))/s, \(run.delivered) deliveries  (target >= 50,000/s: \(run.perSecond >= 50_000 ? "met" : "NOT met"))"
      )
      json[mode] = [
        "publishes": run.publishes, "subscribers": subscribers, "seconds": run.seconds,
        "publishes_per_second": run.perSecond, "deliveries": run.delivered,
        "rounds": runs.map(\.perSecond),
      ]
    }
    return json
  }

  // MARK: round trip

  private func runLoop() throws -> [String: Any] {
    // An in-memory core: sync() on an idle core never touches the store.
    let contention = CPUContention()
    let core = try Core(config: CoreConfig())
    try core.start()
    let floor = skipFloor ? nil : RawFloor()
    // Warm up, then measure in interleaved chunks of 1000 (Core.sync(), then each floor), so a
    // change in machine conditions (another process, hypervisor steal) hits all of them alike.
    for _ in 0..<warmup {
      try core.sync()
      if let floor {
        _ = floor.asyncSemaphoreRoundTrip()
        _ = floor.pingPongRoundTrip()
      }
    }
    var sync = makeLatencyHistogram()
    var bare = makeLatencyHistogram()
    var pingPong = makeLatencyHistogram()
    var callerBusy = makeLatencyHistogram()
    var loopBusy = makeLatencyHistogram()
    let busyNanos = UInt64(placementBusy * 1000)
    var done = 0
    while done < roundTrips {
      let n = min(1000, roundTrips - done)
      for _ in 0..<n {
        let t0 = monotonicNanos()
        try core.sync()
        _ = sync.record(monotonicNanos() - t0)
      }
      if let floor {
        for _ in 0..<n { _ = bare.record(floor.asyncSemaphoreRoundTrip()) }
        for _ in 0..<n { _ = pingPong.record(floor.pingPongRoundTrip()) }
        if busyNanos > 0 {
          for _ in 0..<n {
            _ = callerBusy.record(floor.asyncSemaphoreRoundTrip(callerAfterSend: busyNanos, loopAfterReply: 0))
          }
          for _ in 0..<n {
            _ = loopBusy.record(floor.asyncSemaphoreRoundTrip(callerAfterSend: 0, loopAfterReply: busyNanos))
          }
        }
      }
      done += n
    }
    floor?.shutdown()
    try core.close()

    let summary = LatencySummary(name: "round trip Core.sync()", histogram: sync)
    print(summary.line)
    let met = summary.p50Micros < 20
    print("round trip: median \(fmt(summary.p50Micros, 1)) us (target < 20 us: \(met ? "met" : "NOT met"))")
    var json: [String: Any] = [
      "core_sync": summary.json, "warmup": warmup, "target_p50_us": 20, "target_met": met,
      "interleaved_chunk": 1000,
    ]
    if floor != nil {
      let bareSummary = LatencySummary(name: "floor uv_async_send + uv_sem_wait", histogram: bare)
      let pingSummary = LatencySummary(name: "floor semaphore ping-pong (no libuv)", histogram: pingPong)
      print(bareSummary.line)
      print(pingSummary.line)
      let overhead = summary.p50Micros - bareSummary.p50Micros
      print(
        "round trip: Core.sync() p50 minus bare uv_async_send + uv_sem_wait p50 = \(fmt(overhead, 1)) us (negative: the core's brief polling saved the wake-ups the bare floor pays; see README)"
      )
      var floorJSON: [String: Any] = [
        "uv_async_send_plus_sem_wait": bareSummary.json, "sem_ping_pong": pingSummary.json,
      ]
      if busyNanos > 0 {
        let c = LatencySummary(
          name: "floor, caller busy \(fmt(placementBusy, 1)) us after uv_async_send", histogram: callerBusy)
        let l = LatencySummary(
          name: "floor, loop busy \(fmt(placementBusy, 1)) us after its reply", histogram: loopBusy)
        print(c.line)
        print(l.line)
        floorJSON["caller_busy_after_send"] = c.json
        floorJSON["loop_busy_after_reply"] = l.json
      }
      json["floor"] = floorJSON
      json["p50_over_floor_us"] = overhead
    }
    let othersBusy = contention.othersBusyPercent()
    let steal = contention.stealPercent()
    if let othersBusy, let steal {
      let quiet = othersBusy < 10 && steal < 2
      print(
        "round trip: meanwhile other processes kept \(fmt(othersBusy, 0))% of the CPUs busy; hypervisor steal \(fmt(steal, 0))%\(quiet ? "" : " (not a quiet machine)")"
      )
    }
    json["other_processes_cpu_busy_percent"] = othersBusy ?? -1
    json["steal_percent"] = steal ?? -1
    return json
  }
}

private func medianOf(_ values: [Double]) -> Double {
  let sorted = values.sorted()
  return sorted.count % 2 == 1
    ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

private func fmt(_ value: Double, _ decimals: Int) -> String {
  String(format: "%.\(decimals)f", value)
}

private func makeTempDir(in parent: String) throws -> String {
  var template = Array((parent.hasSuffix("/") ? parent : parent + "/").utf8CString.dropLast())
  template += Array("rt-bench-XXXXXX".utf8CString)
  return try template.withUnsafeMutableBufferPointer { buffer in
    guard let made = mkdtemp(buffer.baseAddress!) else {
      throw BenchError("cannot create a directory in \(parent): \(String(cString: strerror(errno)))")
    }
    return String(cString: made)
  }
}

/// What the figures depend on: cores, CPU, kernel, and the filesystem the database lives on
/// (fsync cost decides the per-append figures).
struct MachineInfo {
  let cores: Int
  let cpu: String
  let kernel: String
  let dbFilesystem: String
  let loadAverage: String

  static func collect(dbDir: String) -> MachineInfo {
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let cpu =
      cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
      .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) }
      ?? "unknown"
    var uts = utsname()
    uname(&uts)
    let release = withUnsafeBytes(of: &uts.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
    return MachineInfo(
      cores: ProcessInfo.processInfo.activeProcessorCount, cpu: cpu, kernel: release,
      dbFilesystem: filesystem(of: dbDir),
      loadAverage: ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "")
        .split(separator: " ").prefix(3).joined(separator: " "))
  }

  /// "fstype on device (mount point)" for the mount holding `path`, from /proc/self/mounts.
  static func filesystem(of path: String) -> String {
    let real = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? path
    let resolved = URL(fileURLWithPath: real).resolvingSymlinksInPath().path
    guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return "unknown" }
    var best: (point: String, type: String, device: String)?
    for line in mounts.split(separator: "\n") {
      let f = line.split(separator: " ")
      guard f.count >= 3 else { continue }
      let point = String(f[1])
      let inside = point == "/" || resolved == point || resolved.hasPrefix(point + "/")
      if inside, point.count >= (best?.point.count ?? -1) { best = (point, String(f[2]), String(f[0])) }
    }
    guard let best else { return "unknown" }
    return "\(best.type) on \(best.device) (\(best.point))"
  }

  var line: String {
    "\(cores) cores, \(cpu), Linux \(kernel), temp/db dir on \(dbFilesystem), load average \(loadAverage)"
  }
  var json: [String: Any] {
    [
      "cores": cores, "cpu": cpu, "kernel": kernel, "db_dir_filesystem": dbFilesystem,
      "load_average_at_start": loadAverage,
    ]
  }
}
