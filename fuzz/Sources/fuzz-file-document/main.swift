// Fuzz target: any bytes as a file document's update from another replica, and as a stored
// file snapshot. Invariants: no crash; a refused update changes nothing; an accepted one applied
// again changes nothing and the state reloads to the same snapshot; a snapshot that loads writes
// back the same bytes, and its own diff applied to a copy of it changes nothing.
import Glibc
import RealtimeCore

@c(LLVMFuzzerTestOneInput)
public func fuzzFileDocument(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  guard let data else { return 0 }
  if FuzzEntry.file(UnsafeRawBufferPointer(start: data, count: size)) == -2 { abort() }
  return 0
}
