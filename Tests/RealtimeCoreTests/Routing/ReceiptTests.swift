import Testing

@testable import RealtimeCore

/// Receipt cursors and unread counts through the Core's API.
@Suite struct ReceiptTests {
  private func running(_ path: String? = nil) throws -> Core {
    let core = try Core(config: CoreConfig(databasePath: path, durability: .normal))
    try core.start()
    return core
  }

  @Test func cursorsMoveForwardOnlyAndUnreadCountsTheNewestReadOfAnyDevice() throws {
    let core = try running()
    defer { try? core.close() }
    for n in 1...5 { _ = try core.publish(channel: "room", data: [UInt8(n)]) }
    #expect(try core.unread(channel: "room", user: "ada") == 5)
    #expect(
      try core.receipt(.delivered, channel: "room", offset: 4, user: "ada", device: "phone")
        == ReceiptCursor(delivered: 4, read: 0))
    #expect(try core.unread(channel: "room", user: "ada") == 5, "delivered is not read")
    #expect(
      try core.receipt(.read, channel: "room", offset: 3, user: "ada", device: "phone")
        == ReceiptCursor(delivered: 4, read: 3))
    #expect(
      try core.receipt(.read, channel: "room", offset: 2, user: "ada", device: "phone")
        == ReceiptCursor(delivered: 4, read: 3), "never backwards")
    #expect(try core.unread(channel: "room", user: "ada") == 2)
    #expect(try core.receipt(.read, channel: "room", offset: 5, user: "ada", device: "tablet").read == 5)
    #expect(try core.unread(channel: "room", user: "ada") == 0)
    #expect(try core.unread(channel: "room", user: "bob") == 5, "per user")
    _ = try core.publish(channel: "room", data: [6])
    #expect(try core.unread(channel: "room", user: "ada") == 1)
  }

  @Test func badReceiptsAreRefused() throws {
    let core = try running()
    defer { try? core.close() }
    _ = try core.publish(channel: "room", data: [1])
    let cases: [(String, UInt64, String, String, ErrorCode)] = [
      ("room", 2, "ada", "phone", .invalidArgument),  // past the newest
      ("room", 1, "", "phone", .invalidArgument),
      ("room", 1, "ada", "", .invalidArgument),
      ("room", 1, String(repeating: "u", count: 129), "phone", .invalidArgument),
      ("nope:x", 1, "ada", "phone", .notFound),
      ("bad name", 1, "ada", "phone", .invalidArgument),
    ]
    for (channel, offset, user, device, code) in cases {
      do {
        try core.receipt(.read, channel: channel, offset: offset, user: user, device: device)
        Issue.record("accepted: \(channel) \(offset) \(user.prefix(8)) \(device)")
      } catch {
        #expect(error.code == code, "\(channel) \(offset): \(error.message)")
      }
    }
    #expect(try core.unread(channel: "room", user: "ada") == 1, "nothing was recorded")
  }

  @Test func cursorsSurviveARestartInTheirEpoch() throws {
    let dir = try TempDir()
    let path = dir.file("receipts.db")
    do {
      let core = try running(path)
      for n in 1...5 { _ = try core.publish(channel: "room", data: [UInt8(n)]) }
      try core.receipt(.read, channel: "room", offset: 3, user: "ada", device: "phone")
      try core.close()
    }
    let core = try running(path)
    defer { try? core.close() }
    #expect(try core.unread(channel: "room", user: "ada") == 2)
    // A cursor written later in the same epoch never moves a stored one backwards.
    try core.receipt(.read, channel: "room", offset: 4, user: "ada", device: "phone")
    #expect(try core.unread(channel: "room", user: "ada") == 1)
  }

  @Test func anInMemoryChannelsNewEpochResetsItsCursors() throws {
    let dir = try TempDir()
    let path = dir.file("memory-receipts.db")
    do {
      let core = try running(path)
      try core.configure(namespace: "m", NamespaceOptions(persistent: false))
      for n in 1...3 { _ = try core.publish(channel: "m:x", data: [UInt8(n)]) }
      try core.receipt(.read, channel: "m:x", offset: 3, user: "ada", device: "phone")
      try core.close()
    }
    let core = try running(path)
    defer { try? core.close() }
    try core.configure(namespace: "m", NamespaceOptions(persistent: false))
    _ = try core.publish(channel: "m:x", data: [9])
    #expect(try core.unread(channel: "m:x", user: "ada") == 1, "the old epoch's cursor counts as nothing read")
  }
}
