import Testing

@testable import RealtimeCore

/// A clock the test moves by hand, in nanoseconds.
final class FakeClock: @unchecked Sendable {
  var now: UInt64 = 1_000_000_000
  var read: @Sendable () -> UInt64 { { self.now } }
}

@Suite struct RateLimiterTests {
  /// Over any window of length T, the accepted cost is at most burst + T / interval, for random
  /// policies, arrival times and costs.
  @Test(arguments: 1...12 as ClosedRange<UInt64>)
  func acceptedCostNeverExceedsTheBurstPlusTheRate(seed: UInt64) throws {
    var rng = WireRNG(seed: seed)
    let clock = FakeClock()
    let limiter = RateLimiter(clock: clock.read)
    let policy = RateLimitPolicy(
      count: UInt64.random(in: 1...50, using: &rng), periodMs: UInt64.random(in: 1...2_000, using: &rng),
      burst: UInt64.random(in: 1...10, using: &rng))
    try limiter.set("p", policy)
    let interval = policy.intervalNs
    var accepted: [(time: UInt64, cost: UInt64)] = []
    for _ in 0..<400 {
      // Bursty arrivals: often at the same instant, sometimes after a long pause.
      clock.now += Bool.random(using: &rng) ? 0 : UInt64.random(in: 0...(interval * 3), using: &rng)
      let cost = UInt64.random(in: 1...policy.burst, using: &rng)
      if try limiter.check("p", key: Array("k".utf8), cost: cost).allowed { accepted.append((clock.now, cost)) }
    }
    #expect(!accepted.isEmpty)
    for start in accepted.indices {
      var total: UInt64 = 0
      for end in start..<accepted.count {
        total += accepted[end].cost
        let window = accepted[end].time - accepted[start].time
        // Integer form of total <= burst + window / interval.
        #expect(
          total * interval <= policy.burst * interval + window,
          "seed \(seed): \(total) units in \(window) ns under \(policy)")
      }
    }
  }

  /// A client keeping exactly to the allowed rate is never refused, whatever its cost per call.
  @Test(arguments: [1, 3, 10] as [UInt64])
  func aSteadyClientAtTheAllowedRateIsNeverRefused(cost: UInt64) throws {
    let clock = FakeClock()
    let limiter = RateLimiter(clock: clock.read)
    let policy = RateLimitPolicy(count: 100, periodMs: 60_000, burst: 10)
    try limiter.set("steady", policy)
    for _ in 0..<10_000 {
      #expect(try limiter.check("steady", key: Array("ada".utf8), cost: cost).allowed)
      clock.now += cost * policy.intervalNs
    }
  }

  @Test func theBurstPassesThenTheRefusalSaysWhenToRetry() throws {
    let clock = FakeClock()
    let limiter = RateLimiter(clock: clock.read)
    try limiter.set("login", RateLimitPolicy(count: 5, periodMs: 60_000, burst: 5))
    for _ in 0..<5 { #expect(try limiter.check("login", key: Array("ip:1".utf8)).allowed) }
    let refused = try limiter.check("login", key: Array("ip:1".utf8))
    #expect(refused == RateLimitDecision(allowed: false, retryAfterMs: 12_000))
    clock.now += 11_999_999_999
    #expect(try !limiter.check("login", key: Array("ip:1".utf8)).allowed)
    clock.now += 1
    #expect(try limiter.check("login", key: Array("ip:1".utf8)).allowed, "exactly when it said")
    #expect(try limiter.check("login", key: Array("ip:2".utf8)).allowed, "another key has its own burst")
  }

  @Test func policiesKeepTheirOwnStateForTheSameKey() throws {
    let clock = FakeClock()
    let limiter = RateLimiter(clock: clock.read)
    try limiter.set("a", RateLimitPolicy(count: 1, periodMs: 1_000, burst: 1))
    try limiter.set("b", RateLimitPolicy(count: 1, periodMs: 1_000, burst: 1))
    #expect(try limiter.check("a", key: Array("k".utf8)).allowed)
    #expect(try limiter.check("b", key: Array("k".utf8)).allowed)
    #expect(try !limiter.check("a", key: Array("k".utf8)).allowed)
  }

  @Test func aPolicyTurnedOffPassesEverything() throws {
    let limiter = RateLimiter(clock: FakeClock().read)
    try limiter.set("publish", nil)
    for _ in 0..<1_000 { #expect(try limiter.check("publish", key: Array("k".utf8), cost: 1_000).allowed) }
    #expect(try limiter.policy("publish") == nil)
  }

  /// Expired keys are reclaimed: a flood of distinct keys, each used once, leaves the table no
  /// larger than the keys active within one tolerance.
  @Test func aFloodOfKeysThatExpireKeepsTheTableBounded() throws {
    let clock = FakeClock()
    let limiter = RateLimiter(maxKeys: 1 << 20, clock: clock.read)
    let policy = RateLimitPolicy(count: 1, periodMs: 1, burst: 1)  // a key lives 2 ms at most
    try limiter.set("flood", policy)
    for n in 0..<200_000 {
      #expect(try limiter.check("flood", key: Array("key-\(n)".utf8)).allowed)
      clock.now += 10_000  // 100 new keys per millisecond
    }
    // About 200 keys live at a time; the table started at 1,024 slots and never needed more.
    #expect(limiter.tableSize.slots <= 2_048)
  }

  /// Past maxKeys live keys, new keys are refused (fail closed) while known keys keep their
  /// state, until keys expire and a sweep makes room.
  @Test func pastMaxKeysNewKeysAreRefusedUntilOldOnesExpire() throws {
    let clock = FakeClock()
    let limiter = RateLimiter(maxKeys: 1_024, clock: clock.read)
    try limiter.set("login", RateLimitPolicy(count: 1, periodMs: 60_000, burst: 2))
    var admitted = 0
    for n in 0..<5_000 where try limiter.check("login", key: Array("k\(n)".utf8)).allowed { admitted += 1 }
    #expect(admitted >= 1_024 && admitted < 5_000, "admitted \(admitted)")
    #expect(limiter.tableSize.slots <= 2_048)
    #expect(try limiter.check("login", key: Array("k0".utf8)).allowed, "k0 has a second unit of burst")
    #expect(try !limiter.check("login", key: Array("k0".utf8)).allowed, "and then none")
    clock.now += 121_000_000_000  // every key expired
    #expect(try limiter.check("login", key: Array("new".utf8)).allowed)
  }

  @Test func badInputIsRefusedWithAClearError() throws {
    let limiter = RateLimiter(clock: FakeClock().read)
    func code(_ body: () throws -> Void) -> ErrorCode? {
      do {
        try body()
        return nil
      } catch { return (error as? RealtimeError)?.code }
    }
    #expect(code { _ = try limiter.check("nope", key: Array("k".utf8)) } == .notFound)
    #expect(code { _ = try limiter.check("publish", key: Array("k".utf8), cost: 0) } == .invalidArgument)
    #expect(code { _ = try limiter.check("publish", key: Array("k".utf8), cost: 21) } == .invalidArgument)
    #expect(code { _ = try limiter.check("publish", key: []) } == .invalidArgument)
    #expect(code { _ = try limiter.check("publish", key: [UInt8](repeating: 1, count: 1025)) } == .invalidArgument)
    #expect(code { try limiter.set("", RateLimitPolicy(count: 1, periodMs: 1, burst: 1)) } == .invalidArgument)
    #expect(code { try limiter.set("Upper", RateLimitPolicy(count: 1, periodMs: 1, burst: 1)) } == .invalidArgument)
    #expect(code { try limiter.set("p", RateLimitPolicy(count: 0, periodMs: 1, burst: 1)) } == .invalidArgument)
    #expect(code { try limiter.set("p", RateLimitPolicy(count: 1, periodMs: 0, burst: 1)) } == .invalidArgument)
    #expect(code { try limiter.set("p", RateLimitPolicy(count: 1, periodMs: 1, burst: 0)) } == .invalidArgument)
    #expect(code { try limiter.set("p", RateLimitPolicy(count: 2_000_000, periodMs: 1, burst: 1)) } == .invalidArgument)
    for n in 0..<(RateLimiter.maxPolicies - RateLimiter.defaults.count - RateLimiter.offByDefault.count) {
      try limiter.set("extra-\(n)", RateLimitPolicy(count: 1, periodMs: 1, burst: 1))
    }
    #expect(code { try limiter.set("one-too-many", RateLimitPolicy(count: 1, periodMs: 1, burst: 1)) } == .noMemory)
  }
}
