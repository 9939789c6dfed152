// Fuzz target: any bytes as a task-list update or diff from another replica, and as a stored
// task-list snapshot. Invariants: no crash; a refused update changes nothing; the state after an
// accepted one reloads to the same snapshot; a snapshot that loads writes back the same bytes,
// and its own diff applied to a copy of it changes nothing.
import Glibc
import RealtimeCore

@c(LLVMFuzzerTestOneInput)
public func fuzzTaskList(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  guard let data else { return 0 }
  if FuzzEntry.taskList(UnsafeRawBufferPointer(start: data, count: size)) == -2 { abort() }
  return 0
}
