import CSQLite
import Foundation
import Testing

@testable import RealtimeCore

/// Payloads sealed at rest, through the core on a real SQLite file: what lands on disk holds no
/// plaintext, reads open it after a restart with the key, rows that were tampered with, swapped
/// or sealed under a key not held fail with an error and never give plaintext, a core without
/// keys refuses to mix plaintext in, re-sealing moves every row to the current key, and
/// end-to-end channels keep the client's bytes untouched.
@Suite struct AtRestTests {
  static let key1 = [UInt8](repeating: 0x11, count: 32)
  static let key2 = [UInt8](repeating: 0x22, count: 32)

  private func core(_ path: String, keys: [(UInt32, [UInt8])], start: Bool = true) throws -> Core {
    let core = try Core(config: CoreConfig(databasePath: path))
    for (id, key) in keys { try core.keyring.add(id: id, key: key) }
    if let last = keys.last { try core.keyring.use(id: last.0) }
    if start { try core.start() }
    return core
  }

  private func secret(_ n: Int) -> [UInt8] { Array("SECRET-PAYLOAD-\(n)-0123456789".utf8) }

  /// Every byte of the database file and its write-ahead log, if any.
  private func fileBytes(_ path: String) -> [UInt8] {
    var bytes: [UInt8] = []
    for file in [path, path + "-wal"] {
      if let data = FileManager.default.contents(atPath: file) { bytes += [UInt8](data) }
    }
    return bytes
  }

  private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard needle.count <= haystack.count else { return false }
    return (0...(haystack.count - needle.count)).contains { i in haystack[i..<(i + needle.count)].elementsEqual(needle)
    }
  }

  /// Runs `sql` on the file with a connection of its own (the core closed).
  private func sql(_ path: String, _ sql: String) throws {
    let db = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READWRITE)
    try db.exec(sql)
  }

  private func column(_ path: String, _ query: String) throws -> [Int64] {
    let db = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READONLY)
    let stmt = try db.prepare(query)
    var out: [Int64] = []
    while try stmt.step() { out.append(stmt.int64(0)) }
    return out
  }

  /// Writes five raw log entries, five channel messages and a compacted text document with a
  /// tail of updates, all with key 1.
  private func populate(_ path: String) throws {
    let core = try core(path, keys: [(1, Self.key1)])
    for n in 1...5 { _ = try appendAndWait(core, "raw", secret(n)).get() }
    for n in 1...5 { _ = try core.publish(channel: "room", data: secret(100 + n), dataIsJSON: false) }
    let doc = try core.openDocument("notes", kind: .text)
    try doc.withText { t throws(RealtimeError) in try t.insert("SECRET-DOC-TEXT-", at: 0) }
    _ = doc.commit()
    core.closeDocument(doc)
    try core.sync()
    let again = try core.openDocument("notes", kind: .text)
    try again.withText { t throws(RealtimeError) in try t.insert("TAIL-UPDATE", at: t.count) }
    _ = again.commit()
    try core.sync()
    // Left open: closing would fold the tail into a new snapshot.
    try core.close()
    #expect(try column(path, "SELECT count(*) FROM rt_doc_updates") == [1])
  }

  @Test func sealedRowsHoldNoPlaintextAndReadBackAfterRestart() throws {
    let dir = try TempDir()
    let path = dir.file("sealed.db")
    try populate(path)
    let disk = fileBytes(path)
    #expect(disk.count > 0)
    for n in [1, 5, 101, 105] { #expect(!contains(disk, secret(n)), "plaintext \(n) on disk") }
    #expect(!contains(disk, Array("SECRET-DOC".utf8)) && !contains(disk, Array("TAIL-UPDATE".utf8)))
    #expect(try column(path, "SELECT DISTINCT key_id FROM rt_log") == [1])
    #expect(try column(path, "SELECT DISTINCT key_id FROM rt_doc_updates") == [1])
    #expect(try column(path, "SELECT snapshot_key_id FROM rt_docs WHERE snapshot IS NOT NULL") == [1])
    #expect(try column(path, "SELECT value FROM rt_meta WHERE key = 'sealed'") == [1])

    let core = try core(path, keys: [(1, Self.key1)])
    defer { try? core.close() }
    #expect(try core.read(stream: "raw", after: 0, limit: 10).map(\.payload) == (1...5).map(secret))
    let history = try core.history(channel: "room", after: 0, limit: 10)
    #expect(history.messages.map(\.data) == (101...105).map(secret))
    let doc = try core.openDocument("notes", kind: .text)
    #expect(try doc.withText { t throws(RealtimeError) in t.text } == "SECRET-DOC-TEXT-TAIL-UPDATE")
    core.closeDocument(doc)
  }

  @Test func rowsSwappedInSQLiteDoNotOpen() throws {
    let dir = try TempDir()
    let path = dir.file("swap.db")
    try populate(path)
    // Two entries of one log swap payloads; an update takes the snapshot's place.
    try sql(
      path,
      """
      CREATE TEMP TABLE a AS SELECT payload FROM rt_log WHERE seq = 1 AND stream_id = (SELECT id FROM rt_streams WHERE name = 'raw');
      CREATE TEMP TABLE b AS SELECT payload FROM rt_log WHERE seq = 2 AND stream_id = (SELECT id FROM rt_streams WHERE name = 'raw');
      UPDATE rt_log SET payload = (SELECT payload FROM b) WHERE seq = 1 AND stream_id = (SELECT id FROM rt_streams WHERE name = 'raw');
      UPDATE rt_log SET payload = (SELECT payload FROM a) WHERE seq = 2 AND stream_id = (SELECT id FROM rt_streams WHERE name = 'raw');
      UPDATE rt_docs SET snapshot = (SELECT body FROM rt_doc_updates WHERE doc = 'notes' LIMIT 1) WHERE id = 'notes';
      """)
    let core = try core(path, keys: [(1, Self.key1)])
    defer { try? core.close() }
    for (after, limit) in [(0, 1), (1, 1), (0, 10)] {
      let error = #expect(throws: RealtimeError.self) {
        try core.read(stream: "raw", after: UInt64(after), limit: limit)
      }
      #expect(error?.code == .corrupt)
      #expect(error?.message.contains("moved") == true)
    }
    // Entries 3... were not touched and still open.
    #expect(try core.read(stream: "raw", after: 2, limit: 10).map(\.payload) == (3...5).map(secret))
    let error = #expect(throws: RealtimeError.self) { try core.store.loadDocument("notes") }
    #expect(error?.code == .corrupt && error?.message.contains("snapshot") == true)
  }

  /// A row moved to another channel (same seq, same key) does not open either.
  @Test func anEntryMovedToAnotherChannelDoesNotOpen() throws {
    let dir = try TempDir()
    let path = dir.file("move.db")
    do {
      let core = try core(path, keys: [(1, Self.key1)])
      _ = try appendAndWait(core, "one", secret(1)).get()
      _ = try appendAndWait(core, "two", secret(2)).get()
      try core.close()
    }
    try sql(
      path,
      """
      UPDATE rt_log SET payload = (SELECT payload FROM rt_log WHERE stream_id = (SELECT id FROM rt_streams WHERE name = 'one'))
      WHERE stream_id = (SELECT id FROM rt_streams WHERE name = 'two');
      """)
    let core = try core(path, keys: [(1, Self.key1)], start: false)
    defer { try? core.close() }
    #expect(try core.read(stream: "one", after: 0, limit: 1).map(\.payload) == [secret(1)])
    let error = #expect(throws: RealtimeError.self) { try core.read(stream: "two", after: 0, limit: 1) }
    #expect(error?.code == .corrupt)
  }

  @Test func bitFlipsAnywhereInASealedRowAreRefused() throws {
    let dir = try TempDir()
    let path = dir.file("flip.db")
    do {
      let core = try core(path, keys: [(1, Self.key1)])
      _ = try appendAndWait(core, "raw", secret(1)).get()
      try core.close()
    }
    let original = try {
      let db = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READONLY)
      let stmt = try db.prepare("SELECT payload FROM rt_log")
      _ = try stmt.step()
      return stmt.bytes(0)
    }()
    #expect(original.count == secret(1).count + Sealer.overhead)
    // The version byte, each key id byte, nonce bytes, ciphertext bytes and the tag's last byte.
    let positions = [0, 1, 2, 3, 4, 5, 17, 28, 29, 40, original.count - 17, original.count - 1]
    for position in positions {
      var flipped = original
      flipped[position] ^= 0x01
      let db = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READWRITE)
      let update = try db.prepare("UPDATE rt_log SET payload = ?1")
      try update.bind(1, flipped)
      _ = try update.step()
      let core = try core(path, keys: [(1, Self.key1)], start: false)
      let error = #expect(throws: RealtimeError.self, "flip at \(position)") {
        try core.read(stream: "raw", after: 0, limit: 1)
      }
      #expect(error?.code == .corrupt, "flip at \(position): \(error?.message ?? "")")
      try core.close()
    }
    // The key_id column disagreeing with the key id the payload carries is refused too.
    try sql(path, "UPDATE rt_log SET key_id = 2")
    let db = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READWRITE)
    let restore = try db.prepare("UPDATE rt_log SET payload = ?1")
    try restore.bind(1, original)
    _ = try restore.step()
    let core = try core(path, keys: [(1, Self.key1), (2, Self.key2)], start: false)
    defer { try? core.close() }
    let error = #expect(throws: RealtimeError.self) { try core.read(stream: "raw", after: 0, limit: 1) }
    #expect(error?.code == .corrupt)
  }

  @Test func aKeyNotLoadedIsNamedAndNothingIsDeleted() throws {
    let dir = try TempDir()
    let path = dir.file("unknown.db")
    try populate(path)
    let core = try core(path, keys: [(2, Self.key2)])
    let error = #expect(throws: RealtimeError.self) { try core.read(stream: "raw", after: 0, limit: 10) }
    #expect(error?.code == .notFound && error?.message.contains("key 1") == true)
    #expect(throws: RealtimeError.self) { try core.history(channel: "room", after: 0, limit: 10) }
    #expect(throws: RealtimeError.self) { try core.openDocument("notes", kind: .text) }
    try core.close()
    #expect(try column(path, "SELECT count(*) FROM rt_log") == [10])
  }

  @Test func withoutKeysNothingPlaintextIsMixedIn() throws {
    let dir = try TempDir()
    let path = dir.file("nokey.db")
    try populate(path)
    let core = try core(path, keys: [])
    defer { try? core.close() }
    #expect(throws: RealtimeError.self) { try core.read(stream: "raw", after: 0, limit: 10) }
    let append = try appendAndWait(core, "raw", Array("plain".utf8))
    guard case .failure(let error) = append else {
      Issue.record("a plaintext append was accepted beside sealed rows")
      return
    }
    #expect(error.code == .state && error.message.contains("load the keys"))
    let publish = #expect(throws: RealtimeError.self) {
      try core.publish(channel: "fresh", data: Array("plain".utf8), dataIsJSON: false)
    }
    #expect(publish?.code == .state)
    let open = #expect(throws: RealtimeError.self) { try core.openDocument("new-doc", kind: .text) }
    #expect(open?.code == .state)
    try core.close()
    #expect(try column(path, "SELECT count(*) FROM rt_log WHERE key_id = 0") == [0])
  }

  @Test func resealMovesEveryRowToTheCurrentKey() throws {
    let dir = try TempDir()
    let path = dir.file("rotate.db")
    // Plaintext rows from before sealing was on, then rows under key 1.
    do {
      let core = try core(path, keys: [])
      _ = try appendAndWait(core, "raw", secret(0)).get()
      try core.close()
    }
    try populate(path)
    #expect(try column(path, "SELECT key_id FROM rt_log ORDER BY key_id").first == 0)

    let core = try core(path, keys: [(1, Self.key1), (2, Self.key2)])
    defer { try? core.close() }
    #expect(core.keyring.currentID == 2)
    let rows = try core.reseal()
    let entries = try column(path, "SELECT count(*) FROM rt_log")[0]
    let updates = try column(path, "SELECT count(*) FROM rt_doc_updates")[0]
    let snapshots = try column(path, "SELECT count(*) FROM rt_docs WHERE snapshot IS NOT NULL")[0]
    #expect(updates > 0 && snapshots == 1)
    #expect(rows == UInt64(entries + updates + snapshots))
    #expect(try column(path, "SELECT DISTINCT key_id FROM rt_log") == [2])
    #expect(try column(path, "SELECT DISTINCT key_id FROM rt_doc_updates") == [2])
    #expect(try column(path, "SELECT snapshot_key_id FROM rt_docs WHERE snapshot IS NOT NULL") == [2])
    #expect(try core.reseal() == 0, "a second pass has nothing left")
    try core.keyring.remove(id: 1)
    #expect(try core.read(stream: "raw", after: 0, limit: 10).map(\.payload) == [secret(0)] + (1...5).map(secret))
    #expect(try core.history(channel: "room", after: 0, limit: 10).messages.map(\.data) == (101...105).map(secret))
    let doc = try core.openDocument("notes", kind: .text)
    #expect(try doc.withText { t throws(RealtimeError) in t.text } == "SECRET-DOC-TEXT-TAIL-UPDATE")
    core.closeDocument(doc)
    try core.close()
    // Re-sealing overwrites what it replaces (secure_delete), so no copy of the plaintext row
    // stays behind in a free page once the log is checkpointed.
    #expect(!contains(fileBytes(path), secret(0)))
  }

  /// Re-sealing in batches while publishes go on: every row ends under the new key and reads
  /// back, the ones published meanwhile included.
  @Test func resealRunsBesidePublishing() throws {
    let dir = try TempDir()
    let path = dir.file("busy.db")
    let core = try core(path, keys: [(1, Self.key1)])
    defer { try? core.close() }
    try core.configure(namespace: "big", NamespaceOptions(historySize: 10_000))
    for n in 1...(AtRest.resealBatchRows * 2 + 10) {
      try core.publish(channel: "big:room", data: secret(n), dataIsJSON: false) { _ in }
    }
    try core.sync()
    try core.keyring.add(id: 2, key: Self.key2)
    try core.keyring.use(id: 2)
    let published = Collector<UInt64>()
    let done = DispatchSemaphore(value: 0)
    let publisher = Thread {
      defer { done.signal() }
      for n in 1...200 {
        if let result = try? core.publish(channel: "big:other", data: self.secret(n), dataIsJSON: false) {
          published.add(result.offset)
        }
      }
    }
    publisher.start()
    let rows = try core.reseal()
    done.wait()
    #expect(published.all == Array(1...200))
    #expect(rows == UInt64(AtRest.resealBatchRows * 2 + 10))
    #expect(try column(path, "SELECT DISTINCT key_id FROM rt_log") == [2])
    try core.keyring.remove(id: 1)
    let history = try core.history(channel: "big:room", after: 0, limit: 1000)
    #expect(history.messages.count == AtRest.resealBatchRows * 2 + 10)
    #expect(history.messages.last?.data == secret(AtRest.resealBatchRows * 2 + 10))
    #expect(try core.history(channel: "big:other", after: 0, limit: 1000).messages.count == 200)
  }

  /// File chunks: sealed on disk, read back after a restart, re-sealed under a new key, and a
  /// chunk's data moved under another hash does not open.
  @Test func fileChunksAreSealedAndResealed() throws {
    let dir = try TempDir()
    let path = dir.file("files.db")
    let marker = Array("FILE-SECRET-MARKER-0123456789".utf8)
    var rng = WireRNG(seed: 7)
    let content = marker + rng.bytes(150_000)
    do {
      let core = try core(path, keys: [(1, Self.key1)])
      let doc = try core.openDocument("files/a.bin", kind: .file)
      try content.withUnsafeBytes { try doc.writeFile($0) }
      _ = doc.commit()
      core.closeDocument(doc)
      try core.sync()
      try core.close()
    }
    #expect(!contains(fileBytes(path), marker))
    let chunks = try column(path, "SELECT count(*) FROM rt_chunks")[0]
    #expect(chunks > 1)
    #expect(try column(path, "SELECT DISTINCT key_id FROM rt_chunks") == [1])
    do {
      let core = try core(path, keys: [(1, Self.key1), (2, Self.key2)])
      let before = try core.reseal()
      #expect(before >= UInt64(chunks))
      try core.keyring.remove(id: 1)
      let doc = try core.openDocument("files/a.bin", kind: .file)
      #expect(try doc.readFile() == content)
      core.closeDocument(doc)
      try core.close()
    }
    #expect(try column(path, "SELECT DISTINCT key_id FROM rt_chunks") == [2])
    try sql(
      path,
      """
      CREATE TEMP TABLE c AS SELECT hash, data FROM rt_chunks ORDER BY hash LIMIT 2;
      UPDATE rt_chunks SET data = (SELECT data FROM c WHERE c.hash != rt_chunks.hash)
      WHERE hash IN (SELECT hash FROM c);
      """)
    let core = try core(path, keys: [(2, Self.key2)])
    defer { try? core.close() }
    let doc = try core.openDocument("files/a.bin", kind: .file)
    let error = #expect(throws: RealtimeError.self) { try doc.readFile() }
    #expect(error?.code == .corrupt && error?.message.contains("chunk") == true)
    core.closeDocument(doc)
  }

  @Test func resealWithoutACurrentKeyIsRefused() throws {
    let dir = try TempDir()
    let core = try core(dir.file("none.db"), keys: [])
    defer { try? core.close() }
    let error = #expect(throws: RealtimeError.self) { try core.reseal() }
    #expect(error?.code == .state)
  }

  @Test func endToEndChannelsKeepTheClientsBytesAndRefusePlaintext() throws {
    let dir = try TempDir()
    let path = dir.file("e2e.db")
    var options = NamespaceOptions()
    options.endToEnd = true
    let sealed = [EndToEnd.version] + (0..<60).map { UInt8(truncatingIfNeeded: $0 &* 37) }
    do {
      let core = try core(path, keys: [(1, Self.key1)])
      try core.configure(namespace: "e2e", options)
      for (data, json) in [
        (Array("{\"text\":\"hi\"}".utf8), true), ([UInt8](repeating: 1, count: 40), false),
        ([2] + [UInt8](repeating: 0, count: 60), false),
      ] {
        let error = #expect(throws: RealtimeError.self) {
          try core.publish(channel: "e2e:room", data: data, dataIsJSON: json)
        }
        #expect(error?.code == .invalidArgument && error?.message.contains("end-to-end") == true)
      }
      let got = Collector<[UInt8]>()
      _ = try core.subscribe(channel: "e2e:room") { got.add($0.data) }
      #expect(try core.publish(channel: "e2e:room", data: sealed, dataIsJSON: false).offset == 1)
      try core.sync()
      #expect(got.all == [sealed])
      #expect(try core.reseal() == 0, "end-to-end rows are the client's, never re-sealed")
      try core.close()
    }
    #expect(try column(path, "SELECT key_id FROM rt_log") == [AtRest.endToEnd])
    #expect(contains(fileBytes(path), sealed), "stored as the client sealed it")
    // Readable with no key at all: the server never held the key to it.
    let core = try core(path, keys: [])
    defer { try? core.close() }
    try core.configure(namespace: "e2e", options)
    #expect(try core.history(channel: "e2e:room", after: 0, limit: 10).messages.map(\.data) == [sealed])
  }
}
