// ordo-one/benchmark suite for the loop: one cross-thread round trip per iteration. Core.sync()
// on an idle core posts to the loop thread's mailbox, wakes it with uv_async_send and waits for
// its reply on a semaphore; wall clock percentiles are the round-trip latency.
//
//   cd Benchmarks && swift package --disable-sandbox benchmark --target LoopBenchmarks
import Benchmark
import BenchSupport
import RealtimeCore

final class LoopFixture: @unchecked Sendable {
  private(set) var core: Core?

  func open() throws {
    let core = try Core(config: CoreConfig())  // in memory: sync() on an idle core never touches the store
    try core.start()
    self.core = core
  }

  func close() throws {
    try core?.close()
    core = nil
  }
}

let fixture = LoopFixture()

let benchmarks: @Sendable () -> Void = {
  Benchmark(
    "Core.sync() round trip into the loop and back",
    configuration: .init(
      metrics: [.wallClock, .throughput, .mallocCountTotal],
      warmupIterations: 1_000,
      maxDuration: .seconds(10),
      maxIterations: 20_000,
      setup: { try fixture.open() },
      teardown: { try fixture.close() })
  ) { benchmark in
    guard let core = fixture.core else { return benchmark.error("no core") }
    try core.sync()
  }
}
