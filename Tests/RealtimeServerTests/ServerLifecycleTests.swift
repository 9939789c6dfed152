import Foundation
import Testing

/// Runs the built `realtime-server` (beside this test binary) as a user would.
@Suite struct ServerLifecycleTests {
  private static var serverPath: String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("realtime-server").path
  }

  /// Starts the server in `directory`, waits until it reports it is running, sends `signal`, and
  /// returns its exit status and everything it logged.
  private func runUntilSignal(_ signal: Int32, in directory: String, _ arguments: [String] = [])
    throws -> (status: Int32, log: String)
  {
    let path = Self.serverPath
    try #require(FileManager.default.isExecutableFile(atPath: path), "build first: swift build --build-tests")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    let pipe = Pipe()
    process.standardError = pipe
    try process.run()
    var log = ""
    let reader = pipe.fileHandleForReading
    while !log.contains("core running") {
      let chunk = reader.availableData
      if chunk.isEmpty { break }
      log += String(decoding: chunk, as: UTF8.self)
    }
    kill(process.processIdentifier, signal)
    log += String(decoding: reader.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, log)
  }

  private func makeTempDir() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rt-server-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
  }

  @Test(arguments: [SIGINT, SIGTERM])
  func stopsCleanlyOnSignalWithItsDefaultDatabase(signal: Int32) throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // Port 0: the two signal cases run in parallel and must not compete for one port.
    let (status, log) = try runUntilSignal(signal, in: dir, ["--port", "0"])
    #expect(status == 0, "\(log)")
    #expect(log.contains("stopped cleanly"))
    #expect(FileManager.default.fileExists(atPath: dir + "/data/realtime.db"), "default --db is ./data/realtime.db")
  }

  @Test func refusesADamagedDatabaseWithAClearMessage() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let db = dir + "/bad.db"
    let garbage = Data(repeating: 0x5A, count: 4096)
    try garbage.write(to: URL(fileURLWithPath: db))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Self.serverPath)
    process.arguments = ["--db", db]
    let pipe = Pipe()
    process.standardError = pipe
    try process.run()
    let log = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus != 0)
    #expect(log.contains("damaged") || log.contains("not a database"), "\(log)")
    #expect(try Data(contentsOf: URL(fileURLWithPath: db)) == garbage, "the file must be left alone")
  }

  @Test func rejectsAnInvalidPort() throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Self.serverPath)
    process.arguments = ["--port", "70000"]
    process.standardError = Pipe()
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationStatus != 0)
  }

  @Test func configuresNamespacesFromTheCommandLine() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let (status, log) = try runUntilSignal(
      SIGTERM, in: dir,
      [
        "--port", "0", "--in-memory", "--namespace", "=memory,history=10", "--namespace",
        "chat=history=500,publish=subscribers",
      ])
    #expect(status == 0, "\(log)")
    #expect(log.contains("namespace \"\": in memory, history 10"), "\(log)")
    #expect(log.contains("namespace \"chat\": persistent, history 500"), "\(log)")
  }

  @Test(arguments: ["chat", "chat=history=x", "chat=bogus", "Bad!=memory", "chat=history=0"])
  func refusesABadNamespaceSpec(spec: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Self.serverPath)
    process.arguments = ["--port", "0", "--in-memory", "--namespace", spec]
    let pipe = Pipe()
    process.standardError = pipe
    try process.run()
    let log = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus != 0, "\(spec): \(log)")
    #expect(log.contains("namespace"), "\(spec): \(log)")
  }
}
