// CRDT figures so far: syncing 1,000 task records edited concurrently on two replicas (encode
// every state, decode and merge each into the other side), typing into a task's description
// with a commit per keystroke, and content-defined chunking with
// BLAKE2b hashing of a binary file (ChunkStore.add), in MB/s.
import Foundation
import RealtimeCore

extension RTBench {
  func runCRDT() throws -> [String: Any] {
    var json: [String: Any] = [:]
    // 1. Task record sync.
    let tasks = 1_000
    var ada = ReplicaClock(ReplicaID(1))
    var bob = ReplicaClock(ReplicaID(2))
    var mine: [TaskRecord] = []
    var theirs: [TaskRecord] = []
    var wall: UInt64 = 1_795_000_000_000
    for n in 0..<tasks {
      var base = TaskRecord(id: "task-\(n)")
      try base.set(.title("Task number \(n)"), by: &ada, wallMs: wall)
      try base.set(.status("todo"), by: &ada, wallMs: wall)
      base.insert("ada", into: .assignees, by: ada)
      var a = base
      var b = base
      for k in 0..<5 {
        wall += 1
        try a.set(.status(k % 2 == 0 ? "doing" : "review"), by: &ada, wallMs: wall)
        a.insert("tag-\(k)", into: .tags, by: ada)
        try b.set(.priority(Int64(k)), by: &bob, wallMs: wall)
        try b.set(.description("Notes \(k) on task \(n)"), by: &bob, wallMs: wall)
        b.insert("bob", into: .assignees, by: bob)
      }
      mine.append(a)
      theirs.append(b)
    }
    let start = DispatchTime.now().uptimeNanoseconds
    let sentByAda = mine.map { $0.encoded() }
    let sentByBob = theirs.map { $0.encoded() }
    for i in 0..<tasks {
      try theirs[i].apply(sentByAda[i], wallMs: wall)
      try mine[i].apply(sentByBob[i], wallMs: wall)
    }
    let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    let converged = zip(mine, theirs).allSatisfy { $0 == $1 }
    let bytes = sentByAda.reduce(0) { $0 + $1.count } + sentByBob.reduce(0) { $0 + $1.count }
    print(
      String(
        format:
          "crdt: sync of %d task records edited on two replicas: %.1f ms (encode, decode, merge both ways), %d bytes sent (%.0f per record), converged: %@",
        tasks, ms, bytes, Double(bytes) / Double(2 * tasks), converged ? "yes" : "NO"))
    json["task_sync"] = ["tasks": tasks, "ms": ms, "bytes": bytes, "converged": converged]

    // 1b. Typing into a task's description: each keystroke its own committed transaction, as an
    // editor syncing every keystroke would; the update carries the keystroke, not the text.
    let list = TaskListDocument(replica: ReplicaID(3))
    try list.set(.description(String(repeating: "Lorem ipsum dolor sit amet. ", count: 72)), of: "typed", wallMs: wall)
    _ = list.commit()
    let keystrokes = 2_000
    var typedBytes = 0
    let typingStart = DispatchTime.now().uptimeNanoseconds
    for k in 0..<keystrokes {
      try list.insert(k % 7 == 6 ? " " : "x", into: .description, of: "typed", at: 1_000 + k)
      typedBytes += list.commit()?.count ?? 0
    }
    let typingUs = Double(DispatchTime.now().uptimeNanoseconds - typingStart) / 1e3 / Double(keystrokes)
    let finalLength = list.record("typed")?.description.count ?? 0
    print(
      String(
        format:
          "crdt: typing %d keystrokes into a task description of %d-%d characters, each committed: %.1f us per keystroke, %.0f bytes per update",
        keystrokes, finalLength - keystrokes, finalLength, typingUs, Double(typedBytes) / Double(keystrokes)))
    json["task_typing"] = [
      "keystrokes": keystrokes, "us_per_keystroke": typingUs,
      "bytes_per_update": Double(typedBytes) / Double(keystrokes),
    ]

    // 2. Chunking and hashing a binary file.
    var state: UInt64 = 42
    let size = 64 << 20
    var data = [UInt8](repeating: 0, count: size)
    for i in stride(from: 0, to: size, by: 8) {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      withUnsafeBytes(of: z) { for j in 0..<8 { data[i + j] = $0[j] } }
    }
    var best = Double.infinity
    var chunks = 0
    for _ in 0..<3 {
      let store = ChunkStore()
      let t0 = DispatchTime.now().uptimeNanoseconds
      let manifest = store.add(data)
      best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
      chunks = manifest.chunks.count
    }
    let mbps = Double(size) / 1e6 / best
    print(
      String(
        format: "crdt: chunking + BLAKE2b of a 64 MiB file: %.0f MB/s, %d chunks (average %.1f KiB)", mbps, chunks,
        Double(size) / Double(chunks) / 1024))
    json["chunking"] = ["bytes": size, "mb_per_second": mbps, "chunks": chunks]
    return json
  }
}
