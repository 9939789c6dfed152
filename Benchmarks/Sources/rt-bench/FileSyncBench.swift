// File documents through two cores on real SQLite files: write a file (chunk, hash, store the
// chunks, commit the manifest, until the writer has committed it all), sync it to an empty
// replica (diff, apply, fetch every missing chunk from the first core and store it), then edit
// a few bytes in the middle and sync again, counting what the second sync had to move.
import Foundation
import RealtimeCore

extension RTBench {
  func runFileSync(mebibytes: Int) throws -> [String: Any] {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rt-bench-files-\(getpid())").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let a = try Core(config: CoreConfig(databasePath: dir + "/a.db"))
    let b = try Core(config: CoreConfig(databasePath: dir + "/b.db"))
    try a.start()
    try b.start()
    defer {
      try? a.close()
      try? b.close()
    }
    let docA = try a.openDocument("files/big.bin", kind: .file)
    let docB = try b.openDocument("files/big.bin", kind: .file)
    defer {
      a.closeDocument(docA)
      b.closeDocument(docB)
    }
    let size = mebibytes << 20
    var state: UInt64 = 7
    var data = [UInt8](repeating: 0, count: size)
    data.withUnsafeMutableBytes { raw in
      for i in stride(from: 0, to: size - 7, by: 8) {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        raw.storeBytes(of: z ^ (z >> 31), toByteOffset: i, as: UInt64.self)
      }
    }
    func seconds(_ body: () throws -> Void) rethrows -> Double {
      let t0 = DispatchTime.now().uptimeNanoseconds
      try body()
      return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }
    var update: [UInt8] = []
    var writeParts = (0.0, 0.0)
    let write = try seconds {
      writeParts.0 = try seconds {
        try data.withUnsafeBytes { try docA.writeFile($0) }
        update = docA.commit() ?? []
      }
      writeParts.1 = try seconds { try a.sync() }
    }
    print(String(format: "files:   (write %.1f ms, commit %.1f ms)", writeParts.0 * 1e3, writeParts.1 * 1e3))
    /// B takes A's diff and fetches the chunks it lacks; returns (chunks, bytes, diff bytes).
    func syncB() throws -> (chunks: Int, bytes: Int, diff: Int) {
      var diff: [UInt8] = []
      var missing: [ChunkHash] = []
      var moved = 0
      var fetch = 0.0
      var store = 0.0
      let apply = try seconds {
        diff = docA.diff(since: docB.stateVector)
        try docB.apply(diff)
        missing = try docB.missingChunks()
      }
      for hash in missing {
        var chunk: [UInt8]?
        fetch += try seconds { chunk = try a.chunk(hash) }
        guard let chunk else { throw RealtimeError(.notFound, "chunk \(hash) vanished") }
        store += try seconds { try b.putChunk(chunk, as: hash) }
        moved += chunk.count
      }
      let commit = try seconds { try b.sync() }
      print(
        String(
          format: "files:   (diff+apply+missing %.1f ms, fetch %.1f ms, store %.1f ms, commit %.1f ms)", apply * 1e3,
          fetch * 1e3, store * 1e3, commit * 1e3))
      return (missing.count, moved, diff.count)
    }
    var first = (chunks: 0, bytes: 0, diff: 0)
    let firstSync = try seconds { first = try syncB() }
    let same = try docB.readFile() == data
    // A 100-byte edit in the middle.
    for i in 0..<100 { data[size / 2 + i] ^= 0x5A }
    var editUpdate: [UInt8] = []
    let rewrite = try seconds {
      try data.withUnsafeBytes { try docA.writeFile($0) }
      editUpdate = docA.commit() ?? []
      try a.sync()
    }
    var second = (chunks: 0, bytes: 0, diff: 0)
    let secondSync = try seconds { second = try syncB() }
    let sameAfterEdit = try docB.readFile() == data
    let mb = Double(size) / 1e6
    print(
      String(
        format:
          "files: write %d MiB through the core: %.0f ms (%.0f MB/s), update %d bytes; sync to an empty replica: %.0f ms (%.0f MB/s), %d chunks, identical: %@",
        mebibytes, write * 1e3, mb / write, update.count, firstSync * 1e3, mb / firstSync, first.chunks,
        same ? "yes" : "NO"))
    print(
      String(
        format:
          "files: 100-byte edit in the middle: rewrite %.0f ms, update %d bytes; re-sync %.1f ms moving %d chunks (%d bytes, %.4f%% of the file), identical: %@",
        rewrite * 1e3, editUpdate.count, secondSync * 1e3, second.chunks, second.bytes,
        100 * Double(second.bytes) / Double(size), sameAfterEdit ? "yes" : "NO"))
    return [
      "mebibytes": mebibytes, "write_ms": write * 1e3, "update_bytes": update.count, "sync_ms": firstSync * 1e3,
      "chunks": first.chunks, "edit_rewrite_ms": rewrite * 1e3, "edit_update_bytes": editUpdate.count,
      "edit_sync_ms": secondSync * 1e3, "edit_chunks_moved": second.chunks, "edit_bytes_moved": second.bytes,
      "identical": same && sameAfterEdit,
    ]
  }
}
