import Testing

@testable import RealtimeCore

/// Last seen: online while any session of the user is open, then when the last one ended, stored
/// so it survives a restart.
@Suite struct LastSeenTests {
  @Test func theLastSessionsEndIsStoredAndSurvivesARestart() throws {
    let dir = try TempDir()
    let path = dir.file("seen.db")
    do {
      let core = try Core(config: CoreConfig(databasePath: path, durability: .full))
      try core.start()
      try core.perform { engine in engine.router.clock = { 1_795_000_000_000 } }
      let hook: AuthHook = { request in .allow(request.token.flatMap { Identity(user: $0, device: "d") }) }
      let (phone, laptop) = try core.perform { engine in
        (Harness(authenticate: hook, router: engine.router), Harness(authenticate: hook, router: engine.router))
      }
      #expect(try core.lastSeen(user: "ada") == LastSeen(online: false, time: nil), "never seen")
      try core.perform { _ in
        phone.send(#"{"type":"connect","token":"ada"}"#)
        laptop.send(#"{"type":"connect","token":"ada"}"#)
      }
      #expect(try core.lastSeen(user: "ada") == LastSeen(online: true, time: nil))
      let close: [UInt8] = [0x03, 0xE8]
      try core.perform { _ in clientFrame(0x8, close).withUnsafeBytes { phone.socket.receive($0) } }
      #expect(try core.lastSeen(user: "ada").online, "her laptop is still connected")
      try core.perform { engine in
        engine.router.clock = { 1_795_000_060_000 }
        clientFrame(0x8, close).withUnsafeBytes { laptop.socket.receive($0) }
      }
      #expect(try core.lastSeen(user: "ada") == LastSeen(online: false, time: 1_795_000_060_000))
      #expect(try core.lastSeen(user: "bob") == LastSeen(online: false, time: nil))
      try core.close()
    }
    let reopened = try Core(config: CoreConfig(databasePath: path, durability: .full))
    try reopened.start()
    defer { try? reopened.close() }
    #expect(try reopened.lastSeen(user: "ada") == LastSeen(online: false, time: 1_795_000_060_000))
    #expect(throws: RealtimeError.self) { try reopened.lastSeen(user: "") }
  }
}
