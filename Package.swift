// swift-tools-version:6.1
// RealtimeCore: an embeddable real-time engine with a stable C ABI (include/realtime.h).
import Foundation
import PackageDescription

// librealtime.so exports the C ABI (rt_*) and nothing else, under SONAME librealtime.so.0, in every
// build configuration. scripts/build-lib.sh adds the static Swift runtime for the shipped form.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
let libraryLinkFlags = [
  "-Xlinker", "--version-script=\(root)/scripts/realtime.map", "-Xlinker", "-soname=librealtime.so.0",
]

let package = Package(
  name: "RealtimeCore",
  products: [
    // librealtime.so: build the release form with scripts/build-lib.sh (static Swift runtime,
    // rt_* exports only, SONAME librealtime.so.0).
    .library(name: "realtime", type: .dynamic, targets: ["CRealtimeAPI"]),
    .library(name: "RealtimeCore", targets: ["RealtimeCore"]),
    .executable(name: "realtime-server", targets: ["RealtimeServer"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
  ],
  targets: [
    .systemLibrary(
      name: "CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
    .systemLibrary(
      name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
    .systemLibrary(
      name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
    // SHA-1 and base64 for the WebSocket handshake's Sec-WebSocket-Accept (libsodium has no SHA-1).
    .systemLibrary(
      name: "CNettle", pkgConfig: "nettle", providers: [.apt(["nettle-dev"])]),
    // The hand-written public header, as a Clang module so CRealtimeAPI can implement it.
    .systemLibrary(name: "CRealtimeHeader"),

    .target(
      name: "RealtimeCore",
      dependencies: ["CLibUV", "CSodium", "CSQLite", "CNettle"]),
    .target(
      name: "CRealtimeAPI",
      dependencies: ["RealtimeCore", "CRealtimeHeader"],
      linkerSettings: [.unsafeFlags(libraryLinkFlags)]),

    .executableTarget(
      name: "RealtimeServer",
      dependencies: [
        "RealtimeCore",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ],
      path: "examples/server"),
    // Test helper: appends with durability `full` and reports each acknowledgement, so the
    // durability test can SIGKILL it mid-stream.
    .executableTarget(
      name: "rt-store-crash-probe",
      dependencies: ["RealtimeCore"],
      path: "Tests/Tools/StoreCrashProbe"),

    .testTarget(
      name: "RealtimeCoreTests",
      dependencies: ["RealtimeCore"]),
    // Runs the built realtime-server binary as a user would.
    .testTarget(name: "RealtimeServerTests"),
  ]
)
