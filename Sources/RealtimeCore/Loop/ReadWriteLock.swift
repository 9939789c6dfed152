import CLibUV

/// A readers-writer lock (libuv's, over pthreads): many holders share it, or one has it alone.
final class ReadWriteLock: @unchecked Sendable {
  private let lock = UnsafeMutablePointer<uv_rwlock_t>.allocate(capacity: 1)

  init() {
    lock.initialize(to: uv_rwlock_t())
    _ = uv_rwlock_init(lock)
  }

  deinit {
    uv_rwlock_destroy(lock)
    lock.deallocate()
  }

  /// Runs `body` sharing the lock with other readers.
  func shared<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    uv_rwlock_rdlock(lock)
    defer { uv_rwlock_rdunlock(lock) }
    return try body()
  }

  /// Runs `body` holding the lock alone.
  func exclusive<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    uv_rwlock_wrlock(lock)
    defer { uv_rwlock_wrunlock(lock) }
    return try body()
  }
}
