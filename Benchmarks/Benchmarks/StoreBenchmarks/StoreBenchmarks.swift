// ordo-one/benchmark suite for the store: durable appends (durability `full`) on a file database.
// Each iteration issues a burst of appends without waiting and then waits for every
// acknowledgement; throughput is scaled so it reads as appends per second.
//
//   cd Benchmarks && swift package --disable-sandbox benchmark --target StoreBenchmarks
import Benchmark
import BenchSupport
import Foundation
import RealtimeCore

/// The core a benchmark's iterations share: opened in setup, closed in teardown.
final class CoreFixture: @unchecked Sendable {
  private(set) var core: Core?
  private var dir: String?

  func open(groupCommit: Bool) throws {
    let dir = NSTemporaryDirectory() + "rt-storebench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    self.dir = dir
    core = try StoreBench.openCore(path: dir + "/bench.db", groupCommit: groupCommit)
  }

  func close() throws {
    try core?.close()
    core = nil
    if let dir { try? FileManager.default.removeItem(atPath: dir) }
    dir = nil
  }
}

let groupCommit = CoreFixture()
let perAppend = CoreFixture()

let benchmarks: @Sendable () -> Void = {
  // Group commit: 1000 appends per iteration (scalingFactor .kilo), from 4 producer threads.
  Benchmark(
    "Append burst, group commit (durability full)",
    configuration: .init(
      metrics: [.wallClock, .throughput, .cpuTotal],
      warmupIterations: 2,
      scalingFactor: .kilo,
      maxDuration: .seconds(10),
      maxIterations: 100,
      setup: { try groupCommit.open(groupCommit: true) },
      teardown: { try groupCommit.close() })
  ) { benchmark in
    guard let core = groupCommit.core else { return benchmark.error("no core") }
    let run = try StoreBench.appendBurst(
      core, count: benchmark.scaledIterations.count, producers: 4, mode: "group_commit_burst")
    blackHole(run)
  }

  // The same burst with one transaction (one fsync) per append: what group commit saves. Also
  // 1000 appends per iteration, so the two throughput figures compare directly; fewer iterations
  // because each one costs a thousand fsyncs.
  Benchmark(
    "Append burst, one transaction per append (durability full)",
    configuration: .init(
      metrics: [.wallClock, .throughput, .cpuTotal],
      warmupIterations: 1,
      scalingFactor: .kilo,
      maxDuration: .seconds(10),
      maxIterations: 5,
      setup: { try perAppend.open(groupCommit: false) },
      teardown: { try perAppend.close() })
  ) { benchmark in
    guard let core = perAppend.core else { return benchmark.error("no core") }
    let run = try StoreBench.appendBurst(
      core, count: benchmark.scaledIterations.count, producers: 4, mode: "per_append_burst")
    blackHole(run)
  }
}
