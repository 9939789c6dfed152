// swift-tools-version:6.1
// libFuzzer targets for what RealtimeCore reads from outside. Build and run:
//
//   cd fuzz && swift build -c release --sanitize=fuzzer --sanitize=address
//   .build/release/fuzz-store-open -max_total_time=60 corpus/store-open
//
// Each target is also run over its committed seed corpus by the test suite (scripts/test.sh).
import PackageDescription

let package = Package(
  name: "RealtimeFuzz",
  dependencies: [.package(name: "RealtimeCore", path: "..")],
  targets: [
    // Arbitrary bytes as an existing database file: opening must fail with an error or succeed,
    // never crash, and never change a file it refuses.
    .executableTarget(
      name: "fuzz-store-open",
      dependencies: [.product(name: "RealtimeCore", package: "RealtimeCore")])
  ]
)
