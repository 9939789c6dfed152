/// Who is present in a channel: one entry per (user, client) — a client is a connection, or a
/// host-chosen id — each with a status and a small JSON meta. A user is online while any of
/// their entries exists. Changes are gathered as a diff against the state the members last
/// heard, so a burst of changes reaches them as one message with each entry's net change: a
/// meta change is one `update`, a join and leave within one batch cancel out. Loop-thread only.
final class PresenceSet {
  /// One presence entry's identity.
  struct Key: Hashable, Comparable {
    let user: String
    let client: String

    static func < (a: Key, b: Key) -> Bool { (a.user, a.client) < (b.user, b.client) }
  }

  /// One presence entry's state.
  struct Entry: Equatable {
    var status: String
    /// One JSON object, at most `PresenceLimits.maxMetaBytes`.
    var meta: [UInt8]
    /// When a host entry ends unless renewed (loop time, ms); nil for a connection's entry,
    /// which ends with its connection.
    var expiresAt: UInt64?
  }

  let channel: String
  private(set) var entries: [Key: Entry] = [:]
  /// Entries per user: a user is online while theirs is above zero.
  private(set) var users: [String: Int] = [:]
  /// For every key changed since the last flush: its state then (nil: absent).
  private var before: [Key: Entry?] = [:]
  /// Loop time of the last flush, for coalescing.
  var lastFlush: UInt64 = 0
  /// No lease ends before this (a bound, not exact): `expire` scans only from then.
  private var nextExpiry = UInt64.max

  init(channel: String) { self.channel = channel }

  var isEmpty: Bool { entries.isEmpty && before.isEmpty }
  var hasChanges: Bool { !before.isEmpty }

  /// Sets an entry (a join if new, an update if its status or meta changed).
  func set(_ key: Key, _ entry: Entry) {
    let old = entries[key]
    guard old != entry else { return }
    if before[key] == nil { before[key] = .some(old) }
    if old == nil { users[key.user, default: 0] += 1 }
    entries[key] = entry
    if let end = entry.expiresAt { nextExpiry = min(nextExpiry, end) }
  }

  /// Removes an entry (a leave); false when there was none.
  @discardableResult
  func remove(_ key: Key) -> Bool {
    guard let old = entries.removeValue(forKey: key) else { return false }
    if before[key] == nil { before[key] = .some(old) }
    let left = (users[key.user] ?? 1) - 1
    users[key.user] = left > 0 ? left : nil
    return true
  }

  /// Removes the host entries whose lease passed at `now`; returns how many.
  func expire(now: UInt64) -> Int {
    // A pass over every entry only when some lease may have ended: flushes run every turn.
    guard now >= nextExpiry else { return 0 }
    var gone: [Key] = []
    var next = UInt64.max
    for (key, entry) in entries {
      guard let end = entry.expiresAt else { continue }
      if end <= now { gone.append(key) } else { next = min(next, end) }
    }
    nextExpiry = next
    for key in gone { remove(key) }
    return gone.count
  }

  /// The net change since the last flush, in key order, and forgets it: joins (absent then,
  /// present now), leaves (present then, absent now) and updates (present both times, changed).
  func takeDiff() -> (joins: [(Key, Entry)], leaves: [Key], updates: [(Key, Entry)]) {
    var joins: [(Key, Entry)] = []
    var leaves: [Key] = []
    var updates: [(Key, Entry)] = []
    for (key, then) in before.sorted(by: { $0.key < $1.key }) {
      switch (then, entries[key]) {
      case (nil, let now?): joins.append((key, now))
      case (_?, nil): leaves.append(key)
      case (let then?, let now?) where Self.visible(then) != Self.visible(now): updates.append((key, now))
      default: break
      }
    }
    before = [:]
    return (joins, leaves, updates)
  }

  /// What members see of an entry (a lease renewal alone is no news).
  private static func visible(_ entry: Entry) -> Entry {
    var entry = entry
    entry.expiresAt = nil
    return entry
  }

  /// Entries after `cursor` in key order, at most `limit`.
  func page(after cursor: Key?, limit: Int) -> [(Key, Entry)] {
    var keys = entries.keys.sorted()
    if let cursor, let start = keys.firstIndex(where: { $0 > cursor }) {
      keys = Array(keys[start...])
    } else if cursor != nil {
      keys = []
    }
    return keys.prefix(limit).compactMap { key in entries[key].map { (key, $0) } }
  }
}
