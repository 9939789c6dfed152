// Text CRDT figures: replaying the automerge-paper editing trace (259,778 edits, each its own
// transaction committed to an update, as an editor sending keystrokes would), the heap it adds,
// the snapshot's size and load time, and the merge of two replicas that each made 10,000
// concurrent edits.
import ArgumentParser
import CUVBench
import Foundation
import RealtimeCore

/// One edit of a trace: delete `deleteCount` scalars at `position`, then insert `insert` there.
struct TraceEdit {
  let position: Int
  let deleteCount: Int
  let insert: String
}

/// An editing trace from Tests/Fixtures/editing-traces (gzip'd JSON: txns of patches).
struct EditingTrace {
  let edits: [[TraceEdit]]
  let endContent: String

  init(path: String) throws {
    let gunzip = Process()
    gunzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
    gunzip.arguments = ["-dc", path]
    let pipe = Pipe()
    gunzip.standardOutput = pipe
    try gunzip.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    gunzip.waitUntilExit()
    guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
      let txns = root["txns"] as? [[String: Any]], let end = root["endContent"] as? String
    else { throw ValidationError("\(path) is not an editing trace") }
    edits = txns.map { txn in
      ((txn["patches"] as? [[Any]]) ?? []).map { p in
        TraceEdit(
          position: (p[0] as? Int) ?? 0, deleteCount: (p[1] as? Int) ?? 0, insert: (p[2] as? String) ?? "")
      }
    }
    endContent = end
  }
}

extension EditingTrace {
  /// Writes the edits in text_replay.c's format (u32 count; per edit u32 position, u32 delete
  /// count, u32 insert length and the UTF-8; little-endian) to `path`, and the final text to
  /// `path.end`.
  func dump(to path: String) throws {
    var out: [UInt8] = []
    func u32(_ v: Int) {
      for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: v >> shift)) }
    }
    let all = edits.flatMap { $0 }
    u32(all.count)
    for e in all {
      u32(e.position)
      u32(e.deleteCount)
      u32(e.insert.utf8.count)
      out += Array(e.insert.utf8)
    }
    try Data(out).write(to: URL(fileURLWithPath: path))
    try Data(endContent.utf8).write(to: URL(fileURLWithPath: path + ".end"))
  }
}

/// Bytes of heap in use (glibc's count), to measure what a structure adds.
func heapInUse() -> Int {
  Int(mallinfo2().uordblks)
}

extension RTBench {
  func runText(tracePath: String, rounds: Int) throws -> [String: Any] {
    var json: [String: Any] = [:]
    let trace = try EditingTrace(path: tracePath)
    let editCount = trace.edits.reduce(0) { $0 + $1.count }

    // 1. Replay, one update per transaction. The updates go into one reused buffer, counted.
    var replayMs: [Double] = []
    var updateBytes = 0
    var updates = 0
    var added = 0
    var doc = TextDocument(replica: ReplicaID(1))
    for round in 0..<rounds {
      let heapBefore = heapInUse()
      let fresh = TextDocument(replica: ReplicaID(1))
      var buffer: [UInt8] = []
      buffer.reserveCapacity(1 << 16)
      var bytes = 0
      var n = 0
      let start = DispatchTime.now().uptimeNanoseconds
      for txn in trace.edits {
        for e in txn {
          if e.deleteCount > 0 { fresh.delete(at: e.position, length: e.deleteCount) }
          if !e.insert.isEmpty { try fresh.insert(e.insert, at: e.position) }
        }
        buffer.removeAll(keepingCapacity: true)
        if fresh.commit(into: &buffer) {
          bytes += buffer.count
          n += 1
        }
      }
      replayMs.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
      if round == 0 {
        added = heapInUse() - heapBefore
        updateBytes = bytes
        updates = n
      }
      doc = fresh
    }
    guard doc.text == trace.endContent else { throw ValidationError("replay did not reach endContent") }
    let best = replayMs.min() ?? 0
    let median = replayMs.sorted()[replayMs.count / 2]

    // 2. Snapshot size and load time.
    let snapshot = doc.snapshot()
    var loadMs: [Double] = []
    for _ in 0..<max(rounds, 5) {
      let start = DispatchTime.now().uptimeNanoseconds
      let loaded = try TextDocument(replica: ReplicaID(2), snapshot: snapshot)
      loadMs.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
      guard loaded.count == doc.count else { throw ValidationError("snapshot did not load") }
    }
    let diffBytes = doc.diff(since: VersionVector()).count
    print(
      String(
        format:
          "text: automerge-paper, %d edits, %d updates (%d bytes): replay best %.1f ms, median %.1f ms of %d; heap added %.2f MiB; snapshot %d bytes, loads in %.2f ms (best of %d); full diff %d bytes",
        editCount, updates, updateBytes, best, median, rounds, Double(added) / 1_048_576, snapshot.count,
        loadMs.min() ?? 0, loadMs.count, diffBytes))
    json["replay"] = [
      "edits": editCount, "updates": updates, "update_bytes": updateBytes, "best_ms": best, "median_ms": median,
      "rounds": rounds, "heap_added_bytes": added,
    ]
    json["snapshot"] = ["bytes": snapshot.count, "load_ms": loadMs.min() ?? 0, "full_diff_bytes": diffBytes]

    // 3. Two replicas, each 10,000 concurrent edits on a shared base, merged both ways.
    let base = TextDocument(replica: ReplicaID(10))
    try base.insert(String(trace.endContent.prefix(20_000)), at: 0)
    let baseSnapshot = base.snapshot()
    let ada = try TextDocument(replica: ReplicaID(11), snapshot: baseSnapshot)
    let bob = try TextDocument(replica: ReplicaID(12), snapshot: baseSnapshot)
    var rng = SystemRandomNumberGenerator()
    for doc in [ada, bob] {
      var position = Int.random(in: 0..<doc.count, using: &rng)
      for _ in 0..<10_000 {
        // Mostly typing on where one was, sometimes jumping, sometimes deleting.
        if Int.random(in: 0..<20, using: &rng) == 0 { position = Int.random(in: 0...doc.count, using: &rng) }
        if Int.random(in: 0..<5, using: &rng) == 0 && doc.count > 0 {
          let at = min(position, doc.count - 1)
          doc.delete(at: at, length: 1)
          position = at
        } else {
          try doc.insert("x", at: min(position, doc.count))
          position += 1
        }
        _ = doc.commit()
      }
    }
    let start = DispatchTime.now().uptimeNanoseconds
    let toBob = ada.diff(since: bob.stateVector)
    let toAda = bob.diff(since: ada.stateVector)
    try bob.apply(toBob)
    try ada.apply(toAda)
    let mergeMs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    let converged = ada.snapshot() == bob.snapshot()
    print(
      String(
        format:
          "text: merge of two replicas with 10,000 concurrent edits each: %.2f ms (two diffs of %d and %d bytes, applied), converged: %@",
        mergeMs, toBob.count, toAda.count, converged ? "yes" : "NO"))
    json["merge"] = ["edits_each": 10_000, "ms": mergeMs, "bytes": toBob.count + toAda.count, "converged": converged]
    return json
  }
}
