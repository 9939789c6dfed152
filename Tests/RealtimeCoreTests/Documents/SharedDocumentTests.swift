import Testing

@testable import RealtimeCore

/// Shared documents through the core's Swift API, on a real SQLite file: handles share one
/// replica, changes persist as update logs with snapshots, observers hear of every change, and
/// stored batches that do not decode are refused.
@Suite struct SharedDocumentTests {
  @Test func handlesShareOneReplicaAndObserversHearEveryChange() throws {
    let dir = try TempDir()
    let core = try Core(config: CoreConfig(databasePath: dir.file("d.db")))
    try core.start()
    let first = try core.openDocument("notes", kind: .text)
    let second = try core.openDocument("notes", kind: .text)
    #expect(first === second)
    let heard = Collector<Bool>()
    let token = first.addObserver { heard.add($0.local) }
    try first.withText { t throws(RealtimeError) in try t.insert("hello", at: 0) }
    let update = try #require(first.commit())
    #expect(try second.withText { t throws(RealtimeError) in t.text } == "hello")
    // The same update applied again changes nothing, and is heard as received.
    try second.apply(update)
    #expect(heard.all == [true, false])
    first.removeObserver(token)
    #expect(throws: RealtimeError.self) { try core.openDocument("notes", kind: .tasks) }
    #expect(throws: RealtimeError.self) { try first.withTasks { _ throws(RealtimeError) in } }
    core.closeDocument(first)
    core.closeDocument(second)
    try core.close()
  }

  /// More commits than one compaction takes, each synced as its own log entry; after a restart
  /// the document loads from the snapshot plus the entries after it.
  @Test func aDocumentReloadsFromItsSnapshotAndTail() throws {
    let dir = try TempDir()
    var expected = ""
    do {
      let core = try Core(config: CoreConfig(databasePath: dir.file("d.db")))
      try core.start()
      let doc = try core.openDocument("log", kind: .text)
      for i in 0..<(DocumentHub.compactEntries + 5) {
        let word = "w\(i) "
        try doc.withText { t throws(RealtimeError) in try t.insert(word, at: t.count) }
        expected += word
        _ = doc.commit()
        try core.sync()
      }
      let stored = try #require(try core.store.loadDocument("log"))
      #expect(stored.snapshotSeq == Int64(DocumentHub.compactEntries) && stored.updates.count == 5)
      try core.close()
    }
    let core = try Core(config: CoreConfig(databasePath: dir.file("d.db")))
    try core.start()
    let doc = try core.openDocument("log", kind: .text)
    #expect(try doc.withText { t throws(RealtimeError) in t.text } == expected)
    core.closeDocument(doc)
    try core.close()
  }

  @Test func storedBatchesRoundTripAndBadOnesAreRefused() throws {
    let updates: [ArraySlice<UInt8>] = [[1, 2, 3], [], [9]]
    let body = UpdateBatch.encode(updates)
    #expect(try UpdateBatch.decode(body) == [[1, 2, 3], [], [9]])
    for cut in 0..<body.count {
      #expect(throws: RealtimeError.self) { try UpdateBatch.decode(Array(body.prefix(cut))) }
    }
    #expect(throws: RealtimeError.self) { try UpdateBatch.decode(body + [0]) }
  }
}
