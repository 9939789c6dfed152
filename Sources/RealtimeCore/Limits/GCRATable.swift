/// GCRA state for many keys in one open-addressing table (linear probing) of 16-byte slots: a
/// key's 64-bit keyed hash and its theoretical arrival time (TAT, in nanoseconds). A slot whose
/// TAT has passed holds nothing a fresh key would not, so expired slots are reused in place and
/// dropped when the table is rebuilt: memory stays bounded by the keys active within their
/// limits' tolerance, never by every key ever seen. Not thread-safe: `RateLimiter` locks it.
struct GCRATable: ~Copyable {
  private struct Slot {
    /// 0: empty.
    var hash: UInt64
    var tat: UInt64
  }

  private var slots: UnsafeMutablePointer<Slot>
  private var mask: Int
  /// Occupied slots (live or expired-but-not-yet-dropped).
  private(set) var count = 0
  /// The table never grows past this many slots; then new keys are refused until a sweep frees
  /// room.
  let maxSlots: Int
  /// No sweep of a full table before this time (a full table of live keys would otherwise be
  /// swept on every new key).
  private var nextSweepNs: UInt64 = 0

  /// Slots in use, for the memory figure.
  var capacity: Int { mask + 1 }

  init(initialSlots: Int = 1024, maxSlots: Int = 1 << 21) {
    let size = max(16, initialSlots).nextPowerOfTwo
    self.maxSlots = max(size, maxSlots.nextPowerOfTwo)
    slots = .allocate(capacity: size)
    slots.initialize(repeating: Slot(hash: 0, tat: 0), count: size)
    mask = size - 1
  }

  deinit { slots.deallocate() }

  /// Charges `cost` units to the key with `hash` at time `now` under a limit of one unit every
  /// `intervalNs` with a tolerance of `burst` units; `cost` must be at most `burst`.
  mutating func check(hash rawHash: UInt64, cost: UInt64, intervalNs: UInt64, burst: UInt64, now: UInt64)
    -> RateLimitDecision
  {
    let hash = rawHash == 0 ? 1 : rawHash
    let tolerance = intervalNs &* burst
    var i = Int(truncatingIfNeeded: hash) & mask
    var reusable = -1
    while true {
      let slot = slots[i]
      if slot.hash == hash {
        return charge(i, tat: max(slot.tat, now), cost: cost, intervalNs: intervalNs, tolerance: tolerance, now: now)
      }
      if slot.hash == 0 { break }
      if reusable < 0 && slot.tat <= now { reusable = i }
      i = (i + 1) & mask
    }
    // A new key: its state is a fresh one (TAT = now).
    if cost &* intervalNs > tolerance { return refusal(cost &* intervalNs &- tolerance) }
    let at: Int
    if reusable >= 0 {
      at = reusable
    } else {
      guard makeRoom(now: now) else { return refusal(intervalNs) }
      at = emptySlot(for: hash)
      count += 1
    }
    slots[at] = Slot(hash: hash, tat: now &+ cost &* intervalNs)
    return .allow
  }

  private mutating func charge(
    _ i: Int, tat: UInt64, cost: UInt64, intervalNs: UInt64, tolerance: UInt64, now: UInt64
  ) -> RateLimitDecision {
    let next = tat &+ cost &* intervalNs
    let ahead = next &- now
    if ahead > tolerance { return refusal(ahead &- tolerance) }
    slots[i].tat = next
    return .allow
  }

  private func refusal(_ waitNs: UInt64) -> RateLimitDecision {
    RateLimitDecision(allowed: false, retryAfterMs: (waitNs &+ 999_999) / 1_000_000)
  }

  private func emptySlot(for hash: UInt64) -> Int {
    var i = Int(truncatingIfNeeded: hash) & mask
    while slots[i].hash != 0 { i = (i + 1) & mask }
    return i
  }

  /// Keeps the load at most 3/4 for one more key: drops expired keys, then grows (up to
  /// `maxSlots`). False when the table is full of live keys.
  private mutating func makeRoom(now: UInt64) -> Bool {
    guard (count + 1) * 4 > capacity * 3 else { return true }
    // At full size, counting the live keys is itself a pass over the table: at most one per
    // interval, or a flood of new keys would make every refusal cost that pass.
    if capacity >= maxSlots {
      guard now >= nextSweepNs else { return false }
      nextSweepNs = now &+ 100_000_000
    }
    let live = liveCount(now: now)
    var size = capacity
    while (live + 1) * 2 > size && size < maxSlots { size *= 2 }
    rebuild(size: size, now: now)
    return (count + 1) * 4 <= capacity * 3
  }

  private func liveCount(now: UInt64) -> Int {
    var live = 0
    for i in 0..<capacity where slots[i].hash != 0 && slots[i].tat > now { live += 1 }
    return live
  }

  /// Moves the live keys into a fresh table of `size` slots.
  private mutating func rebuild(size: Int, now: UInt64) {
    let old = slots
    let oldCapacity = capacity
    slots = .allocate(capacity: size)
    slots.initialize(repeating: Slot(hash: 0, tat: 0), count: size)
    mask = size - 1
    count = 0
    for i in 0..<oldCapacity where old[i].hash != 0 && old[i].tat > now {
      slots[emptySlot(for: old[i].hash)] = old[i]
      count += 1
    }
    old.deallocate()
  }
}

extension Int {
  /// The smallest power of two at least `self` (self ≥ 1).
  fileprivate var nextPowerOfTwo: Int {
    var n = 1
    while n < self { n <<= 1 }
    return n
  }
}
