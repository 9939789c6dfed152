// swift-tools-version:6.1
// Benchmarks for RealtimeCore, kept out of the root package so its dependencies (ordo-one/benchmark,
// hdrhistogram-swift) never reach the library's users or its CI build.
//
//   swift run -c release rt-bench                    plain runner: figures + a JSON object
//   swift build -c release --product rt-load         WebSocket load generator (ws-bench.sh runs it)
//   swift package --disable-sandbox benchmark        ordo-one/benchmark suites (Benchmarks/*/)
import PackageDescription

let package = Package(
  name: "RealtimeCoreBenchmarks",
  platforms: [.macOS(.v15)],
  dependencies: [
    // Named, so the product reference below does not depend on the checkout folder's name.
    .package(name: "RealtimeCore", path: ".."),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
    // Only the MallocInterposer trait: the default set also enables RuntimeInterposer, which on
    // Linux with Swift 6.3 pulls in ordo-one/swift-runtime-interposer (not available here).
    .package(url: "https://github.com/ordo-one/benchmark", from: "1.29.0", traits: ["MallocInterposer"]),
  ],
  targets: [
    // libuv, for the raw uv_async_send + semaphore floor measured beside Core.sync().
    .systemLibrary(
      name: "CUVBench", path: "Sources/CUVBench", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),

    // The rate limiter's physical reference: a minimal GCRA loop in C (rt-bench limits).
    .target(name: "CGCRARef", path: "Sources/CGCRARef", cSettings: [.unsafeFlags(["-O2"])]),

    // Shared harness: opening a core, append bursts with ack counting, sync() round trips.
    .target(
      name: "BenchSupport",
      dependencies: [
        .product(name: "RealtimeCore", package: "RealtimeCore"),
        .product(name: "Histogram", package: "hdrhistogram-swift"),
      ],
      path: "Sources/BenchSupport"),

    // The plain runner.
    .executableTarget(
      name: "rt-bench",
      dependencies: [
        "BenchSupport", "CUVBench", "CGCRARef",
        .product(name: "RealtimeCore", package: "RealtimeCore"),
        .product(name: "Histogram", package: "hdrhistogram-swift"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Sources/rt-bench"),

    // WebSocket load generator: one libuv loop, N clients, handshake/ping/echo latency, server RSS.
    .executableTarget(
      name: "rt-load",
      dependencies: [
        "CUVBench",
        .product(name: "Histogram", package: "hdrhistogram-swift"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Sources/rt-load",
      // The load generator must not be the floor of what it measures: dynamic exclusivity checks
      // on its per-message state showed in its profile.
      swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),

    // ordo-one/benchmark suites: the plugin runs every executable target whose folder sits in a
    // folder named "Benchmarks" (here Benchmarks/Benchmarks/<Name>).
    .executableTarget(
      name: "StoreBenchmarks",
      dependencies: [
        "BenchSupport",
        .product(name: "RealtimeCore", package: "RealtimeCore"),
        .product(name: "Benchmark", package: "benchmark"),
      ],
      path: "Benchmarks/StoreBenchmarks",
      plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
    .executableTarget(
      name: "LoopBenchmarks",
      dependencies: [
        "BenchSupport",
        .product(name: "RealtimeCore", package: "RealtimeCore"),
        .product(name: "Benchmark", package: "benchmark"),
      ],
      path: "Benchmarks/LoopBenchmarks",
      plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
  ]
)
