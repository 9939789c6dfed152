// Fuzz target: any bytes as a text update from another replica, or as a text snapshot (the first
// byte chooses). Invariants: no crash; a refused update leaves the document as it was; whatever
// is accepted snapshots to bytes that reload to the same bytes.
import Glibc
import RealtimeCore

@c(LLVMFuzzerTestOneInput)
public func fuzzTextDocument(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  guard let data else { return 0 }
  if FuzzEntry.textDocument(UnsafeRawBufferPointer(start: data, count: size)) == -2 { abort() }
  return 0
}
