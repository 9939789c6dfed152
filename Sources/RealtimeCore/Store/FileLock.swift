#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// An exclusive advisory lock (flock) on the database file, held while a core has it open, so a
/// second core or process cannot write the same logs and break their sequence numbers.
final class FileLock {
  private let fd: Int32

  /// Opens (creating if missing, never truncating) and locks `path`.
  init(path: String) throws(RealtimeError) {
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      let err = errno
      throw RealtimeError(.io, "cannot open database '\(path)': \(String(cString: strerror(err)))")
    }
    var info = stat()
    if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) != S_IFREG {
      close(fd)
      throw RealtimeError(.io, "cannot open database '\(path)': not a regular file")
    }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      let err = errno
      close(fd)
      if err == EWOULDBLOCK {
        throw RealtimeError(.busy, "database '\(path)' is in use by another core or process")
      }
      throw RealtimeError(.io, "cannot lock database '\(path)': \(String(cString: strerror(err)))")
    }
    self.fd = fd
  }

  deinit { close(fd) }
}

/// Size of the file at `path`, or nil when it does not exist or is not a regular file.
func regularFileSize(_ path: String) -> Int64? {
  var info = stat()
  guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
  return Int64(info.st_size)
}
