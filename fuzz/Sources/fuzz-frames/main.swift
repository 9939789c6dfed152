// Fuzz target: any bytes as what a client sends after the handshake, read as WebSocket frames
// (masked, 64 KiB message limit). The first input byte chooses the read size (1...256 bytes);
// the rest is the stream.
// Invariants checked on every input: no crash, no hang, no unbounded allocation (the limit is
// enforced before payload is buffered); and the number of events before the end or the first
// violation does not depend on how the stream is cut into reads.
import Glibc
import RealtimeCore

private let maxMessageBytes = 65_536

@c(LLVMFuzzerTestOneInput)
public func fuzzFrames(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  guard let data, size > 0 else { return 0 }
  let chunk = Int(data[0]) + 1
  let bytes = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
  let events = FuzzEntry.frames(bytes, chunk: chunk, maxMessageBytes: maxMessageBytes)
  if events < 0 { abort() }
  let whole = FuzzEntry.frames(bytes, chunk: max(bytes.count, 1), maxMessageBytes: maxMessageBytes)
  if whole != events { abort() }
  return 0
}
