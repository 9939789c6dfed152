import CSodium

/// Keys by id with one current, as the master keyring and the token signing keys keep them:
/// the first key added becomes current, an id is held once (the same bytes again is fine, other
/// bytes are refused), and the current key cannot be removed. A value: its owner locks it.
struct KeySet<ID: Hashable & Comparable & CustomStringConvertible, Key> {
  private(set) var keys: [ID: Key] = [:]
  private(set) var current: ID?
  let maxKeys: Int
  /// What the messages call a key ("key", "token key").
  let noun: String

  init(maxKeys: Int, noun: String) {
    self.maxKeys = maxKeys
    self.noun = noun
  }

  /// Adds `key` under `id`; `sameBytes` tells whether a held key equals it (in constant time).
  mutating func add(_ key: Key, id: ID, sameBytes: (Key, Key) -> Bool) throws(RealtimeError) {
    if let held = keys[id] {
      guard sameBytes(held, key) else {
        throw RealtimeError(.invalidArgument, "\(noun) \(id) is already held with other bytes")
      }
      return
    }
    guard keys.count < maxKeys else { throw RealtimeError(.tooLarge, "at most \(maxKeys) \(noun)s are held") }
    keys[id] = key
    if current == nil { current = id }
  }

  /// Makes `id` current. Throws `.notFound` for an id not held.
  mutating func use(_ id: ID) throws(RealtimeError) {
    guard keys[id] != nil else { throw RealtimeError(.notFound, "no \(noun) \(id)") }
    current = id
  }

  /// Forgets `id`. Throws `.notFound` for an id not held, `.state` for the current one.
  mutating func remove(_ id: ID) throws(RealtimeError) {
    guard keys[id] != nil else { throw RealtimeError(.notFound, "no \(noun) \(id)") }
    guard current != id else { throw RealtimeError(.state, "\(noun) \(id) is current; use another first") }
    keys[id] = nil
  }

  /// The ids held, ascending.
  var ids: [ID] { keys.keys.sorted() }
}

/// Whether two secret keys hold the same bytes, compared in constant time.
func sameSecret(_ a: SecretKey, _ b: SecretKey, count: Int) -> Bool { sodium_memcmp(a.bytes, b.bytes, count) == 0 }
