// swift-tools-version:6.1
// libFuzzer targets for what RealtimeCore reads from outside. Build and run:
//
//   cd fuzz && swift build -c release --sanitize=fuzzer
//   .build/release/fuzz-store-open -max_total_time=60 corpus/store-open
//   .build/release/fuzz-http-head -max_total_time=60 corpus/http-head
//   .build/release/fuzz-frames -max_total_time=60 corpus/frames
//   .build/release/fuzz-envelope -max_total_time=60 corpus/envelope
//   .build/release/fuzz-channel-record -max_total_time=60 corpus/channel-record
//   .build/release/fuzz-text-document -max_total_time=60 corpus/text-document
//   .build/release/fuzz-token -max_total_time=60 corpus/token
//   .build/release/fuzz-access-name -max_total_time=60 corpus/access-name
//   .build/release/fuzz-sealed-row -max_total_time=60 corpus/sealed-row
//
// Only --sanitize=fuzzer: with Swift 6.3.1, adding address sanitizing to the same build drops the
// coverage instrumentation, and libFuzzer then mutates blindly. Swift's own checks (bounds,
// overflow, exclusivity) stay on in release builds and trap on memory misuse in Swift code.
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
      dependencies: [.product(name: "RealtimeCore", package: "RealtimeCore")]),
    // Arbitrary bytes as a request head, cut into two reads at a point the first byte chooses:
    // never a crash, always an answer the server can send, the same answer for every cut.
    .executableTarget(
      name: "fuzz-http-head",
      dependencies: [.product(name: "RealtimeCore", package: "RealtimeCore")]),
    // Arbitrary bytes as client frames, read in chunks of a size the first byte chooses: never a
    // crash or an oversized allocation, the same events for every chunk size.
    .executableTarget(
      name: "fuzz-frames",
      dependencies: [.product(name: "RealtimeCore", package: "RealtimeCore")]),
    // Arbitrary bytes as a protocol message, JSON or binary as the first byte chooses: never a
    // crash, and whatever decodes survives an encode/decode round trip unchanged.
    .executableTarget(
      name: "fuzz-envelope",
      dependencies: [.product(name: "RealtimeCore", package: "RealtimeCore")]),
    // Arbitrary bytes as a stored channel message (a damaged or tampered database): never a
    // crash, and whatever decodes survives a round trip unchanged.
    .executableTarget(
      name: "fuzz-channel-record",
      dependencies: [.product(name: "RealtimeCore", package: "RealtimeCore")]),
    // Arbitrary bytes as operations on a small rate limiter (policies, checks of any key and
    // cost, time jumps): never a crash, and never more accepted than the limit allows.
    .executableTarget(
      name: "fuzz-rate-limiter",
      dependencies: [.product(name: "RealtimeCore", package: "RealtimeCore")]),
    // Arbitrary bytes as an encoded task record (a CRDT update from another replica): never a
    // crash; whatever decodes re-encodes to the same bytes and merges cleanly.
    .executableTarget(
      name: "fuzz-task-record",
      dependencies: [.product(name: "RealtimeCore", package: "RealtimeCore")]),
    // Arbitrary bytes as a text update applied to a document, or as a text snapshot (the first
    // byte chooses): never a crash; a refused update changes nothing; what loads reloads the same.
    .executableTarget(
      name: "fuzz-text-document",
      dependencies: [.product(name: "RealtimeCore", package: "RealtimeCore")]),
    // Arbitrary bytes as a task-list update or diff, then as a task-list snapshot: never a
    // crash; a refused update changes nothing, and every state reloads to the same bytes.
    .executableTarget(
      name: "fuzz-task-list",
      dependencies: [.product(name: "RealtimeCore", package: "RealtimeCore")]),
    // Arbitrary bytes as a file document's update, then as its snapshot: never a crash; a
    // refused update changes nothing, and every state reloads to the same bytes.
    .executableTarget(
      name: "fuzz-file-document",
      dependencies: [.product(name: "RealtimeCore", package: "RealtimeCore")]),
    // Arbitrary bytes as a PASETO v4.public token to verify, as flat JSON claims and as an ISO
    // 8601 time: never a crash; a token that verifies re-signs to the same bytes; what parses
    // survives a round trip.
    .executableTarget(
      name: "fuzz-token",
      dependencies: [.product(name: "RealtimeCore", package: "RealtimeCore")]),
    // Arbitrary bytes as a client's channel or document name checked against fixed workspace
    // rules, and as a role name: never a crash; a workspace found is valid and in place; a name
    // of a scoped namespace without a workspace is refused to all; higher roles get no less.
    .executableTarget(
      name: "fuzz-access-name",
      dependencies: [.product(name: "RealtimeCore", package: "RealtimeCore")]),
    // Arbitrary bytes as a stored row sealed at rest (its key id column, place and payload) and
    // as an end-to-end publication: never a crash; plaintext comes back unchanged; no sealed row
    // opens without its key; what is sealed for a place opens there and nowhere else.
    .executableTarget(
      name: "fuzz-sealed-row",
      dependencies: [.product(name: "RealtimeCore", package: "RealtimeCore")]),
  ]
)
