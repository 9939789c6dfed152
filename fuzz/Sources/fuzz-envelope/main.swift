// Fuzz target: any bytes as a protocol message. The first input byte chooses the encoding (even:
// JSON text, odd: binary); the rest is the message.
// Invariants checked on every input: no crash, no hang, no unbounded recursion; and a message
// that decodes encodes again to bytes that decode to the same message.
import Glibc
import RealtimeCore

@c(LLVMFuzzerTestOneInput)
public func fuzzEnvelope(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  guard let data, size > 0 else { return 0 }
  let bytes = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
  if FuzzEntry.envelope(bytes, binary: data[0] & 1 == 1) == .roundTripMismatch { abort() }
  return 0
}
