// rt-store-crash-probe: appends to the durable log with durability `full` and prints one line per
// acknowledgement, flushed at once, so a test that SIGKILLs it knows exactly which appends were
// acknowledged before it died.
//
//   rt-store-crash-probe DB ROUND COUNT
//   prints "ack <seq> <round>:<index>" per acknowledged append; the payload is "<round>:<index>".
import Glibc
import RealtimeCore

/// Writes a line straight to the pipe (no stdio buffer), so nothing acknowledged is lost in a buffer.
func say(_ line: String) {
  var bytes = Array((line + "\n").utf8)
  _ = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress, $0.count) }
}

let args = CommandLine.arguments
guard args.count == 4, let round = Int(args[2]), let count = Int(args[3]), count > 0 else {
  print("usage: rt-store-crash-probe DB ROUND COUNT")
  exit(2)
}

do {
  let core = try Core(config: CoreConfig(databasePath: args[1], durability: .full))
  try core.start()
  // Keep a bounded window of appends in flight so group commit has something to group.
  var sem = sem_t()
  sem_init(&sem, 0, 64)
  let semPtr = withUnsafeMutablePointer(to: &sem) { UnsafeMutablePointer($0) }
  nonisolated(unsafe) let window = semPtr
  for index in 0..<count {
    sem_wait(window)
    let payload = Array("\(round):\(index)".utf8)
    try core.append(stream: "crash", payload: payload) { result in
      switch result {
      case .success(let seq): say("ack \(seq) \(round):\(index)")
      case .failure(let error): say("error \(error)")
      }
      sem_post(window)
    }
  }
  try core.close()
} catch {
  print("error \(error)")
  exit(1)
}
