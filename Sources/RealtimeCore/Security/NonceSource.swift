import CSodium
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Random nonces for sealing, from the operating system's CSPRNG (`randombytes_buf`, which is
/// `getrandom` on Linux) fetched 4 KiB at a time per thread instead of one system call per
/// nonce: the call cost a fifth of a 1 KiB seal. The bytes are the kernel's, unchanged; nonces
/// are public (each is written into its sealed payload), so holding future ones in memory gives
/// nothing away.
///
/// A forked child inherits the parent's buffer, and two processes sealing under one key with the
/// same nonces would be a catastrophe: a `pthread_atfork` handler moves a generation counter in
/// the child, and a thread's buffer of an older generation is discarded before use.
enum NonceSource {
  /// Bytes fetched per refill.
  static let bufferBytes = 4096

  /// Moved by the fork handler in every child.
  private static let generation = Atomic<UInt64>(1)

  private final class Buffer {
    let bytes: UnsafeMutablePointer<UInt8>
    /// Bytes handed out; `bufferBytes` means empty.
    var used = NonceSource.bufferBytes
    var generation: UInt64 = 0

    init() { bytes = .allocate(capacity: NonceSource.bufferBytes) }
    deinit {
      sodium_memzero(bytes, NonceSource.bufferBytes)
      bytes.deallocate()
    }
  }

  private static let key: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { raw in
      raw.map { Unmanaged<Buffer>.fromOpaque($0).release() }
    }
    pthread_atfork(nil, nil) { NonceSource.generation.add(1, ordering: .relaxed) }
    return key
  }()

  /// Fills `count` bytes (at most `bufferBytes`) at `out` with fresh random bytes, never handed
  /// out before in this process.
  static func fill(_ out: UnsafeMutablePointer<UInt8>, count: Int) {
    guard count <= bufferBytes else {
      randombytes_buf(out, count)
      return
    }
    let buffer: Buffer
    if let raw = pthread_getspecific(key) {
      buffer = Unmanaged<Buffer>.fromOpaque(raw).takeUnretainedValue()
    } else {
      buffer = Buffer()
      pthread_setspecific(key, Unmanaged.passRetained(buffer).toOpaque())
    }
    let now = generation.load(ordering: .relaxed)
    if buffer.generation != now || bufferBytes - buffer.used < count {
      randombytes_buf(buffer.bytes, bufferBytes)
      buffer.used = 0
      buffer.generation = now
    }
    let start = buffer.bytes + buffer.used
    out.update(from: start, count: count)
    buffer.used += count
  }
}
