import Foundation
import Testing

@testable import RealtimeCore

/// Appends with durability `full` in a child process, SIGKILLs it at a random moment, and checks
/// that every append it acknowledged is in the database, exactly once, with its payload.
@Suite struct DurabilityTests {
  /// The probe is built beside this test binary (`swift build --build-tests` builds both).
  private static var probePath: String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("rt-store-crash-probe").path
  }

  @Test func everyAcknowledgedAppendSurvivesSIGKILL() throws {
    let probe = Self.probePath
    try #require(
      FileManager.default.isExecutableFile(atPath: probe), "build the probe first: swift build --build-tests")
    let dir = try TempDir()
    let db = dir.file("crash.db")
    var acknowledged: [UInt64: String] = [:]
    var rng = SystemRandomNumberGenerator()

    for round in 0..<8 {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: probe)
      process.arguments = [db, "\(round)", "1000000"]
      let pipe = Pipe()
      process.standardOutput = pipe
      try process.run()

      // Kill after a random number of acknowledgements, mid-stream.
      let killAfter = Int.random(in: 1...3_000, using: &rng)
      let reader = pipe.fileHandleForReading
      var buffer = ""
      var seen = 0
      var killed = false
      while true {
        let chunk = reader.availableData
        if chunk.isEmpty { break }  // EOF: the probe is gone
        buffer += String(decoding: chunk, as: UTF8.self)
        while let newline = buffer.firstIndex(of: "\n") {
          let line = String(buffer[..<newline])
          buffer.removeSubrange(...newline)
          let parts = line.split(separator: " ")
          try #require(parts.count == 3 && parts[0] == "ack", "unexpected probe output: \(line)")
          let seq = try #require(UInt64(parts[1]))
          #expect(acknowledged[seq] == nil, "seq \(seq) acknowledged twice")
          acknowledged[seq] = String(parts[2])
          seen += 1
        }
        if seen >= killAfter && !killed {
          kill(process.processIdentifier, SIGKILL)
          killed = true  // keep reading: acks already in the pipe were acknowledged too
        }
      }
      process.waitUntilExit()
      #expect(process.terminationReason == .uncaughtSignal, "round \(round): the probe must die by SIGKILL")

      let core = try Core(config: CoreConfig(databasePath: db))
      #expect(try core.integrityCheck().ok)
      var stored: [UInt64: String] = [:]
      var after: UInt64 = 0
      while true {
        let rows = try core.read(stream: "crash", after: after, limit: 10_000)
        guard let last = rows.last else { break }
        for row in rows { stored[row.seq] = String(decoding: row.payload, as: UTF8.self) }
        after = last.seq
      }
      try core.close()
      #expect(stored.keys.sorted() == Array(1...UInt64(stored.count)), "round \(round): seqs are gapless")
      for (seq, payload) in acknowledged {
        #expect(stored[seq] == payload, "round \(round): acknowledged seq \(seq) lost or changed")
      }
    }
    #expect(acknowledged.count >= 8)
  }
}
