// Fuzz target: any bytes as a token to verify (an access token under a fixed key at a fixed
// time), as a flat JSON object (claims, footers) and as an ISO 8601 time. Invariants: no crash;
// a token that verifies re-signs to the same bytes; parsed JSON and times survive a round trip.
import Glibc
import RealtimeCore

@c(LLVMFuzzerTestOneInput)
public func fuzzToken(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  guard let data else { return 0 }
  if FuzzEntry.token(UnsafeRawBufferPointer(start: data, count: size)) == -2 { abort() }
  return 0
}
