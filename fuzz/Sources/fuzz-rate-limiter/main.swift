// Fuzz target: any bytes as operations on a rate limiter (set a policy, check a key at a cost,
// move the clock, turn a policy off). Invariants: no crash, and no key ever gets more than its
// limit's burst plus the elapsed time over its interval.
import Glibc
import RealtimeCore

@c(LLVMFuzzerTestOneInput)
public func fuzzRateLimiter(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  guard let data else { return 0 }
  if FuzzEntry.rateLimiter(UnsafeRawBufferPointer(start: data, count: size)) == -2 { abort() }
  return 0
}
