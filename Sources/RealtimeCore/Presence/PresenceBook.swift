/// Limits on presence input.
public struct PresenceLimits: Sendable, Equatable {
  /// Largest meta (one JSON object), in bytes.
  public var maxMetaBytes = 1024
  /// Longest status, in bytes.
  public var maxStatusBytes = 32
  /// Most entries in one channel.
  public var maxEntriesPerChannel = 100_000
  /// Largest page of a listing.
  public var maxPageSize = 1000
  /// Channels with more members than this get their diffs at most once per `coalesceMs`.
  public var smallChannel = 100
  public var coalesceMs: UInt64 = 1000
  /// How long a typing indicator lasts, and how often one user's indicator is passed on.
  public var typingMs: UInt64 = 5000
  public var typingEveryMs: UInt64 = 1000

  public init() {}
}

/// Every channel's presence and typing state, on the loop: sets entries (connections' as they
/// subscribe, the host's with a lease), gathers the diffs and hands them out as `presence`
/// events, at the end of the turn for small channels and at most once per interval for large
/// ones. Loop-thread only.
final class PresenceBook {
  let limits: PresenceLimits
  private var sets: [String: PresenceSet] = [:]
  /// Channels with changes not yet sent.
  private var dirty: Set<String> = []
  /// Per channel and user: when their typing indicator was last passed on.
  private var typingSent: [String: [String: UInt64]] = [:]

  init(limits: PresenceLimits = PresenceLimits()) { self.limits = limits }

  /// Checks a status and meta from outside.
  func validate(status: String, meta: [UInt8]) throws(RealtimeError) {
    guard !status.isEmpty, status.utf8.count <= limits.maxStatusBytes else {
      throw RealtimeError(.invalidArgument, "a presence status is 1 to \(limits.maxStatusBytes) bytes")
    }
    guard meta.count <= limits.maxMetaBytes else {
      throw RealtimeError(.tooLarge, "presence meta of \(meta.count) bytes exceeds \(limits.maxMetaBytes)")
    }
    guard meta.first == UInt8(ascii: "{"), JSONEnvelopeReader.isSingleValue(meta[...]) else {
      throw RealtimeError(.invalidArgument, "presence meta must be one JSON object")
    }
  }

  /// Sets `key`'s entry in `channel`.
  func set(_ channel: String, _ key: PresenceSet.Key, _ entry: PresenceSet.Entry) throws(RealtimeError) {
    let set = sets[channel] ?? PresenceSet(channel: channel)
    if set.entries[key] == nil && set.entries.count >= limits.maxEntriesPerChannel {
      throw RealtimeError(.noMemory, "\(channel) has its maximum of \(limits.maxEntriesPerChannel) presence entries")
    }
    sets[channel] = set
    set.set(key, entry)
    if set.hasChanges { dirty.insert(channel) }
  }

  /// Removes `key`'s entry from `channel`; false when it had none.
  @discardableResult
  func remove(_ channel: String, _ key: PresenceSet.Key) -> Bool {
    guard let set = sets[channel], set.remove(key) else { return false }
    dirty.insert(channel)
    return true
  }

  func entry(_ channel: String, _ key: PresenceSet.Key) -> PresenceSet.Entry? { sets[channel]?.entries[key] }

  /// Users online and entries in `channel`.
  func count(_ channel: String) -> (users: Int, entries: Int) {
    guard let set = sets[channel] else { return (0, 0) }
    return (set.users.count, set.entries.count)
  }

  func page(_ channel: String, after cursor: PresenceSet.Key?, limit: Int) throws(RealtimeError) -> [(
    PresenceSet.Key, PresenceSet.Entry
  )] {
    guard (1...limits.maxPageSize).contains(limit) else {
      throw RealtimeError(.invalidArgument, "a presence page holds 1 to \(limits.maxPageSize) entries")
    }
    return sets[channel]?.page(after: cursor, limit: limit) ?? []
  }

  /// Ends host entries whose lease passed.
  func expire(now: UInt64) {
    for (name, set) in sets where set.expire(now: now) > 0 { dirty.insert(name) }
  }

  /// Whether `user`'s typing in `channel` is news to pass on now (at most once per
  /// `typingEveryMs` per user).
  func typing(_ channel: String, user: String, now: UInt64) -> Bool {
    var users = typingSent[channel] ?? [:]
    if let last = users[user], now < last &+ limits.typingEveryMs { return false }
    users[user] = now
    // Forget users whose indicator ran out, so the table follows who is typing now.
    users = users.filter { now < $0.value &+ limits.typingMs }
    typingSent[channel] = users
    return true
  }

  /// The diffs due at `now` (small channels: every one; large: once per `coalesceMs`), each as
  /// the `presence` event's JSON data, with the channel. `force` sends every pending one.
  func due(now: UInt64, members: (String) -> Int, force: Bool = false) -> [(channel: String, data: [UInt8])] {
    var out: [(String, [UInt8])] = []
    for name in dirty {
      guard let set = sets[name] else { continue }
      let large = members(name) > limits.smallChannel
      if large && !force && now < set.lastFlush &+ limits.coalesceMs { continue }
      set.lastFlush = now
      let diff = set.takeDiff()
      if set.entries.isEmpty { sets[name] = nil }
      if diff.joins.isEmpty && diff.leaves.isEmpty && diff.updates.isEmpty { continue }
      out.append((name, Self.diffJSON(diff)))
    }
    for (name, _) in out { dirty.remove(name) }
    // Channels whose changes cancelled out are clean too.
    dirty = dirty.filter { sets[$0]?.hasChanges ?? false }
    return out
  }

  /// Whether some change waits for a later flush.
  var hasPending: Bool { !dirty.isEmpty }

  /// Whether any channel has presence (or changes to send).
  var isActive: Bool { !sets.isEmpty || !dirty.isEmpty }

  /// `{"join":[entry...],"leave":[{"user":U,"client":C}...],"update":[entry...]}`, an entry being
  /// `{"user":U,"client":C,"status":S,"meta":{...}}`.
  static func diffJSON(
    _ diff: (
      joins: [(PresenceSet.Key, PresenceSet.Entry)], leaves: [PresenceSet.Key],
      updates: [(PresenceSet.Key, PresenceSet.Entry)]
    )
  ) -> [UInt8] {
    var out: [UInt8] = Array(#"{"join":["#.utf8)
    appendEntries(diff.joins, to: &out)
    out += Array(#"],"leave":["#.utf8)
    for (i, key) in diff.leaves.enumerated() {
      if i > 0 { out.append(UInt8(ascii: ",")) }
      appendKey(key, to: &out)
      out.append(UInt8(ascii: "}"))
    }
    out += Array(#"],"update":["#.utf8)
    appendEntries(diff.updates, to: &out)
    out += Array("]}".utf8)
    return out
  }

  static func appendEntries(_ entries: [(PresenceSet.Key, PresenceSet.Entry)], to out: inout [UInt8]) {
    for (i, (key, entry)) in entries.enumerated() {
      if i > 0 { out.append(UInt8(ascii: ",")) }
      appendKey(key, to: &out)
      out += Array(#","status":"#.utf8)
      EnvelopeWriter.appendJSONString(entry.status, to: &out)
      out += Array(#","meta":"#.utf8)
      out += entry.meta.isEmpty ? Array("{}".utf8) : entry.meta
      out.append(UInt8(ascii: "}"))
    }
  }

  /// `{"user":U,"client":C` (the caller closes the object).
  private static func appendKey(_ key: PresenceSet.Key, to out: inout [UInt8]) {
    out += Array(#"{"user":"#.utf8)
    EnvelopeWriter.appendJSONString(key.user, to: &out)
    out += Array(#","client":"#.utf8)
    EnvelopeWriter.appendJSONString(key.client, to: &out)
  }
}
