// Fuzz target: any bytes as a stored row sealed at rest (key id column, place, payload), as a
// tampered database would hold it, and as an end-to-end publication. Invariants: no crash;
// plaintext rows come back unchanged; no sealed row opens without the key that sealed it; what is
// sealed for a place opens there and nowhere else; the end-to-end check follows its rules.
import Glibc
import RealtimeCore

@c(LLVMFuzzerTestOneInput)
public func fuzzSealedRow(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  guard let data else { return 0 }
  if FuzzEntry.sealedRow(UnsafeRawBufferPointer(start: data, count: size)) == -2 { abort() }
  return 0
}
