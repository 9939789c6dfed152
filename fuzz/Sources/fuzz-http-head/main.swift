// Fuzz target: any bytes as the start of a connection, read as an HTTP request head and, when
// complete, validated as a WebSocket upgrade. The first input byte chooses where the bytes are
// cut into two reads; the rest is what the peer sent.
// Invariants checked on every input: no crash, no hang; the outcome is one the server can send
// (need more, accepted, or 400/405/426/431/505; FuzzEntry reports 500 if the parser claimed to
// use more bytes than it was given); and where the reads are cut never changes the outcome.
import Glibc
import RealtimeCore

@c(LLVMFuzzerTestOneInput)
public func fuzzHTTPHead(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  guard let data, size > 0 else { return 0 }
  let split = Int(data[0])
  let bytes = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
  let outcome = FuzzEntry.httpHead(bytes, split: split)
  switch outcome {
  case 0, 1, 400, 405, 426, 431, 505: break
  default: abort()
  }
  if FuzzEntry.httpHead(bytes, split: 0) != outcome { abort() }
  return 0
}
