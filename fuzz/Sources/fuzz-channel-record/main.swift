// Fuzz target: any bytes as a stored channel message (a log entry read back from SQLite, which
// a damaged or tampered file can hold). Invariants: no crash, and a record that decodes survives
// an encode/decode round trip unchanged.
import Glibc
import RealtimeCore

@c(LLVMFuzzerTestOneInput)
public func fuzzChannelRecord(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  guard let data else { return 0 }
  if FuzzEntry.channelRecord(UnsafeRawBufferPointer(start: data, count: size)) == -2 { abort() }
  return 0
}
