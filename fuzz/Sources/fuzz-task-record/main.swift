// Fuzz target: any bytes as an encoded task record (a CRDT update from another replica).
// Invariants: no crash; what decodes re-encodes to the same bytes (the encoding is canonical)
// and merges into a record without error.
import Glibc
import RealtimeCore

@c(LLVMFuzzerTestOneInput)
public func fuzzTaskRecord(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  guard let data else { return 0 }
  if FuzzEntry.taskRecord(UnsafeRawBufferPointer(start: data, count: size)) == -2 { abort() }
  return 0
}
