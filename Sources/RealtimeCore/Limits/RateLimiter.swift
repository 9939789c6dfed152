import CLibUV
import CSodium
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Named rate limits over one GCRA table, for the core's own checks (publish, subscribe,
/// presence, typing, abuse) and the host's (`rt_limit_check`): thread-safe, O(1) per check,
/// 16 bytes per active key at a load of at most 3/4. Keys are hashed with SipHash-1-3 under a
/// random 128-bit key (libsodium's `randombytes_buf`), so no client can aim keys at one slot or
/// share another key's state. Clock: nanoseconds, monotonic, injectable for tests; by default the
/// kernel's coarse monotonic clock (a few nanoseconds to read, a resolution of one tick, at most
/// 4 ms: limits are meant for rates per second and slower).
public final class RateLimiter: @unchecked Sendable {
  /// A policy's name, up to 32 bytes, held inline: a check compares four words, with no
  /// reference counting (an array per name cost a retain and a release per check).
  private struct Name: Equatable {
    var length = 0
    var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    /// Nil when longer than 32 bytes.
    init?(_ bytes: UnsafeRawBufferPointer) {
      guard bytes.count <= 32 else { return nil }
      length = bytes.count
      // Byte by byte: names are a few bytes, and memmove's call cost more than the copy.
      withUnsafeMutableBytes(of: &words) { out in
        for i in 0..<bytes.count { out[i] = bytes[i] }
      }
    }

    static func == (a: Name, b: Name) -> Bool {
      a.length == b.length && a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2
        && a.words.3 == b.words.3
    }
  }

  /// One named policy; `limit` nil: the name exists and everything passes.
  private struct Entry {
    let name: Name
    var limit: RateLimitPolicy?
    var intervalNs: UInt64
  }

  /// At most this many named policies.
  public static let maxPolicies = 64
  /// Longest key, in bytes.
  public static let maxKeyBytes = 1024

  /// Held for a few dozen nanoseconds at a time: a spin lock (one atomic to take, a plain store to
  /// release) where a pthread mutex's two atomics, each a full barrier, were most of a check.
  private let lock = Atomic<UInt32>(0)
  // Only touched under `lock`: Swift's dynamic exclusivity checks on them were a tenth of a check.
  private let entries = UnsafeMutablePointer<Entry>.allocate(capacity: RateLimiter.maxPolicies)
  @exclusivity(unchecked) private var entryCount = 0
  @exclusivity(unchecked) private var lastIndex = 0
  @exclusivity(unchecked) private var table: GCRATable
  private let hasher: SipHash
  /// Nil: the coarse clock, called directly (a closure call per check showed in profiles).
  private let clock: (@Sendable () -> UInt64)?

  /// The defaults of `docs/protocol.md` ("Rate limits"): per user 100 messages a minute
  /// (`publish`, burst 20); per account and per IP 5 login attempts a minute (`login`); per IP
  /// 100 requests a minute (`request`, burst 20); and the limits of `subscribe`, `presence`,
  /// `typing`, `chunk` and `abuse`.
  public static let defaults: [(String, RateLimitPolicy)] = [
    ("publish", RateLimitPolicy(count: 100, periodMs: 60_000, burst: 20)),
    ("subscribe", RateLimitPolicy(count: 200, periodMs: 60_000, burst: 100)),
    ("presence", RateLimitPolicy(count: 60, periodMs: 60_000, burst: 10)),
    ("typing", RateLimitPolicy(count: 60, periodMs: 60_000, burst: 10)),
    ("chunk", RateLimitPolicy(count: 12_000, periodMs: 60_000, burst: 2_000)),
    ("abuse", RateLimitPolicy(count: 10, periodMs: 10_000, burst: 20)),
    ("login", RateLimitPolicy(count: 5, periodMs: 60_000, burst: 5)),
    ("request", RateLimitPolicy(count: 100, periodMs: 60_000, burst: 20)),
  ]

  /// Policies that exist but are off until set: `connect`, new WebSocket connections per client
  /// IP (refused with HTTP 429); off because load balancers and offices put many clients behind
  /// one address.
  public static let offByDefault = ["connect"]

  /// A limiter with the default policies; `maxKeys` bounds the keys tracked at once (beyond them,
  /// new keys are refused until old ones expire); `clock` (nanoseconds) replaces the coarse
  /// monotonic clock, for tests.
  public init(maxKeys: Int = 1 << 20, clock: (@Sendable () -> UInt64)? = nil) {
    table = GCRATable(maxSlots: max(16, maxKeys) * 2)
    self.clock = clock
    _ = sodium_init()
    var key: (UInt64, UInt64) = (0, 0)
    withUnsafeMutableBytes(of: &key) { randombytes_buf($0.baseAddress!, $0.count) }
    hasher = SipHash(k0: key.0, k1: key.1)
    for (name, policy) in Self.defaults {
      let entry = Array(name.utf8).withUnsafeBytes {
        Entry(name: Name($0)!, limit: policy, intervalNs: policy.intervalNs)
      }
      (entries + entryCount).initialize(to: entry)
      entryCount += 1
    }
    for name in Self.offByDefault {
      let entry = Array(name.utf8).withUnsafeBytes { Entry(name: Name($0)!, limit: nil, intervalNs: 0) }
      (entries + entryCount).initialize(to: entry)
      entryCount += 1
    }
  }

  deinit {
    entries.deinitialize(count: entryCount)
    entries.deallocate()
  }

  /// The index of the policy named `name`, under the lock: the last one found is tried first
  /// (callers tend to check one policy many times in a row).
  private func index(of name: Name) -> Int? {
    if lastIndex < entryCount && entries[lastIndex].name == name { return lastIndex }
    for i in 0..<entryCount where entries[i].name == name {
      lastIndex = i
      return i
    }
    return nil
  }

  /// The kernel's coarse monotonic clock, in nanoseconds (`CLOCK_MONOTONIC_COARSE`).
  @inline(__always) @Sendable public static func coarseClock() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
  }

  private func locked<R>(_ body: () throws(RealtimeError) -> R) throws(RealtimeError) -> R {
    acquire()
    defer { lock.store(0, ordering: .releasing) }
    return try body()
  }

  @inline(__always)
  private func acquire() {
    var spins = 0
    while !lock.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged {
      // The holder may have been preempted: spin briefly, then give the CPU away.
      spins += 1
      if spins >= 64 {
        sched_yield()
        spins = 0
      }
    }
  }

  /// Sets policy `name` (1 to 32 bytes of a-z, 0-9, `_`, `-`), adding it if new; nil turns it
  /// off (every check passes). Keys keep their state across a change.
  public func set(_ name: String, _ policy: RateLimitPolicy?) throws(RealtimeError) {
    let bytes = Array(name.utf8)
    guard (1...32).contains(bytes.count),
      bytes.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F || $0 == 0x2D })
    else {
      throw RealtimeError(.invalidArgument, "a rate limit's name is 1 to 32 bytes of a-z, 0-9, _ and -")
    }
    try policy?.validate()
    let entry = bytes.withUnsafeBytes { Entry(name: Name($0)!, limit: policy, intervalNs: policy?.intervalNs ?? 0) }
    try locked { () throws(RealtimeError) in
      if let index = index(of: entry.name) {
        entries[index] = entry
      } else {
        guard entryCount < Self.maxPolicies else {
          throw RealtimeError(.noMemory, "at most \(Self.maxPolicies) rate limits")
        }
        (entries + entryCount).initialize(to: entry)
        entryCount += 1
      }
    }
  }

  /// The policy named `name`: nil when it is off. Throws `notFound` for an unknown name.
  public func policy(_ name: String) throws(RealtimeError) -> RateLimitPolicy? {
    let key = Array(name.utf8).withUnsafeBytes { Name($0) }
    return try locked { () throws(RealtimeError) in
      guard let key, let index = index(of: key) else { throw RealtimeError(.notFound, "no rate limit named \(name)") }
      return entries[index].limit
    }
  }

  /// Charges `cost` to `key` under policy `name`. Errors: `notFound` (unknown policy),
  /// `invalidArgument` (empty or over 1 KiB key, cost 0 or over the policy's burst).
  public func check(_ name: String, key: some Collection<UInt8>, cost: UInt64 = 1) throws(RealtimeError)
    -> RateLimitDecision
  {
    let nameBytes = Array(name.utf8)
    let keyBytes = Array(key)
    let result = nameBytes.withUnsafeBytes { name in
      keyBytes.withUnsafeBytes { key in
        Result { () throws(RealtimeError) in try check(name, key: key, cost: cost) }
      }
    }
    return try result.get()
  }

  /// The same, on raw bytes: the policy's name and the key (the C API's path: no copies).
  public func check(_ name: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, cost: UInt64) throws(RealtimeError)
    -> RateLimitDecision
  {
    guard !key.isEmpty, key.count <= Self.maxKeyBytes else {
      throw RealtimeError(.invalidArgument, "a rate limit key is 1 to \(Self.maxKeyBytes) bytes")
    }
    guard cost >= 1 else { throw RealtimeError(.invalidArgument, "a rate limit cost is at least 1") }
    let hash = hasher.hash(key)
    let now = clock?() ?? Self.coarseClock()
    let wanted = Name(name)
    return try locked { () throws(RealtimeError) in
      guard let wanted, let index = index(of: wanted) else {
        throw RealtimeError(.notFound, "no rate limit named \(String(decoding: name, as: UTF8.self))")
      }
      guard let limit = entries[index].limit else { return .allow }
      guard cost <= limit.burst else {
        throw RealtimeError(.invalidArgument, "a cost of \(cost) exceeds the limit's burst of \(limit.burst)")
      }
      // Each policy sees its own keys: the same key under two policies is two states.
      let mixed = hash ^ (UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15)
      return table.check(
        hash: mixed, cost: cost, intervalNs: entries[index].intervalNs, burst: limit.burst, now: now)
    }
  }

  /// Slots of the key table and how many are occupied (for memory figures and tests).
  public var tableSize: (slots: Int, occupied: Int) {
    acquire()
    defer { lock.store(0, ordering: .releasing) }
    return (table.capacity, table.count)
  }
}
