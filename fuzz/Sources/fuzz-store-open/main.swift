// Fuzz target: any bytes, written as a database file, then opened as a core's store.
// Invariants checked on every input: no crash, no hang; a refused file keeps its exact bytes;
// an accepted file passes the integrity check or reports its damage as an error.
import Glibc
import RealtimeCore

private let directory: String = {
  var template = Array("/tmp/rt-fuzz-XXXXXX".utf8CString)
  guard let made = mkdtemp(&template) else { abort() }
  return String(cString: made)
}()

private func write(_ data: UnsafeRawBufferPointer, to path: String) -> Bool {
  let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
  guard fd >= 0 else { return false }
  defer { close(fd) }
  return data.count == 0 || Glibc.write(fd, data.baseAddress, data.count) == data.count
}

private func read(_ path: String) -> [UInt8] {
  let fd = open(path, O_RDONLY)
  guard fd >= 0 else { return [] }
  defer { close(fd) }
  var out: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 65536)
  while true {
    let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
    if n <= 0 { return out }
    out += chunk[0..<n]
  }
}

@c(LLVMFuzzerTestOneInput)
public func fuzzStoreOpen(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  let path = directory + "/input.db"
  for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
  let bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
  guard write(bytes, to: path) else { abort() }
  let before = Array(bytes)
  do {
    let core = try Core(config: CoreConfig(databasePath: path))
    _ = try? core.integrityCheck()
    try? core.close()
  } catch {
    // Refused: the file must be exactly as it was, with nothing created beside it.
    if read(path) != before { abort() }
    for suffix in ["-wal", "-shm"] where access(path + suffix, F_OK) == 0 { abort() }
  }
  return 0
}
