// Fuzz target: any bytes as a channel or document name a client sends, checked against a fixed
// set of workspace rules, and as a role name. Invariants: no crash; a workspace found is valid
// and where the name says; names of a scoped namespace without a workspace are refused to all;
// a higher role is never refused what a lower one is allowed.
import Glibc
import RealtimeCore

@c(LLVMFuzzerTestOneInput)
public func fuzzAccessName(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  guard let data else { return 0 }
  if FuzzEntry.accessName(UnsafeRawBufferPointer(start: data, count: size)) == -2 { abort() }
  return 0
}
