import CSodium

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The master keys a core seals with, by key id. One is current and seals everything new; the
/// others stay to open what they sealed (rotation: add a key, make it current, re-seal at
/// leisure, then drop the old one). Subkeys per purpose and name (a channel, a document, a
/// host's context) are derived with `crypto_kdf` and cached. Any thread.
public final class Keyring: @unchecked Sendable {
  /// Most master keys held at once.
  public static let maxKeys = 64
  /// Most derived subkeys cached; beyond it the cache starts over.
  static let maxCachedSubkeys = 4096

  private struct State {
    var set = KeySet<UInt32, SecretKey>(maxKeys: Keyring.maxKeys, noun: "key")
    var subkeys: [SubkeyName: SecretKey] = [:]
    /// The subkey used last.
    var last: (id: UInt32, purpose: SealPurpose, name: [UInt8], key: SecretKey)?
  }

  struct SubkeyName: Hashable {
    let keyID: UInt32
    let purpose: SealPurpose
    let name: [UInt8]
  }

  private let state = Locked(State())

  public init() {}

  /// Adds master key `id` (1 or more) of 32 bytes; the first added becomes current. Throws
  /// `.invalidArgument` for id 0, a key that is not 32 bytes or an id already held with other
  /// bytes, `.tooLarge` past `maxKeys`, `.noMemory`.
  public func add(id: UInt32, key: [UInt8]) throws(RealtimeError) {
    guard id != 0 else { throw RealtimeError(.invalidArgument, "key id 0 is reserved; use 1 or more") }
    guard key.count == SecretKey.count else {
      throw RealtimeError(.invalidArgument, "a master key is \(SecretKey.count) bytes; this one has \(key.count)")
    }
    guard let secret = key.withUnsafeBytes({ SecretKey($0) }) else {
      throw RealtimeError(.noMemory, "no guarded memory for a key")
    }
    try state.withLock { s throws(RealtimeError) in
      try s.set.add(secret, id: id) { sameSecret($0, $1, count: SecretKey.count) }
    }
  }

  /// Makes key `id` the one that seals from now on. Throws `.notFound` for an id not held.
  public func use(id: UInt32) throws(RealtimeError) {
    try state.withLock { s throws(RealtimeError) in try s.set.use(id) }
  }

  /// Forgets key `id`: what it sealed no longer opens. The current key cannot be removed.
  public func remove(id: UInt32) throws(RealtimeError) {
    try state.withLock { s throws(RealtimeError) in
      try s.set.remove(id)
      s.subkeys = s.subkeys.filter { $0.key.keyID != id }
      if s.last?.id == id { s.last = nil }
    }
  }

  /// The key that seals, if any.
  public var currentID: UInt32? { state.withLock { $0.set.current } }

  /// Whether any key is held.
  public var isEmpty: Bool { state.withLock { $0.set.keys.isEmpty } }

  /// The ids held, ascending.
  public var ids: [UInt32] { state.withLock { $0.set.ids } }

  /// Runs `body` with the subkey of `purpose` and `name` under master key `keyID` (nil: the
  /// current one) and that key's id. Throws `.notFound` for a key not held, `.state` with no key.
  /// The last subkey used is checked first, by comparing bytes, so a caller sealing for one
  /// place after another pays no hashing or allocation.
  func withSubkey<R>(
    _ purpose: SealPurpose, _ name: UnsafeRawBufferPointer, keyID: UInt32?,
    _ body: (UInt32, UnsafePointer<UInt8>) throws(RealtimeError) -> R
  ) throws(RealtimeError) -> R {
    let subkey = try state.withLock { s throws(RealtimeError) -> (UInt32, SecretKey) in
      guard let id = keyID ?? s.set.current else {
        throw RealtimeError(.state, "no key to seal with: add one (key file, environment or rt_key_add)")
      }
      if let last = s.last, last.id == id, last.purpose == purpose, Self.same(last.name, name) {
        return (id, last.key)
      }
      guard let master = s.set.keys[id] else {
        throw RealtimeError(.notFound, "sealed with key \(id), which is not held")
      }
      let slot = SubkeyName(keyID: id, purpose: purpose, name: Array(name))
      let key: SecretKey
      if let cached = s.subkeys[slot] {
        key = cached
      } else {
        guard let derived = SecretKey(filling: { Self.derive($0, master: master, purpose: purpose, name: slot.name) })
        else { throw RealtimeError(.noMemory, "no guarded memory for a key") }
        if s.subkeys.count >= Self.maxCachedSubkeys { s.subkeys = [:] }
        s.subkeys[slot] = derived
        key = derived
      }
      s.last = (id, purpose, slot.name, key)
      return (id, key)
    }
    return try body(subkey.0, subkey.1.bytes)
  }

  /// Whether `held` has the bytes of `name` (memcmp: the generic comparison was a visible
  /// part of a seal's cost).
  private static func same(_ held: [UInt8], _ name: UnsafeRawBufferPointer) -> Bool {
    guard held.count == name.count else { return false }
    return held.withUnsafeBytes { bytes in
      guard let a = bytes.baseAddress, let b = name.baseAddress else { return true }
      return memcmp(a, b, name.count) == 0
    }
  }

  /// `crypto_kdf_derive_from_key` under the purpose's 8-byte context, with the subkey id taken
  /// from the name's keyed BLAKE2b (the name can be any length; the associated data binds the
  /// full name, so two names sharing a subkey still cannot open each other's payloads).
  private static func derive(
    _ out: UnsafeMutablePointer<UInt8>, master: SecretKey, purpose: SealPurpose, name: [UInt8]
  ) {
    var digest = [UInt8](repeating: 0, count: 8)
    _ = crypto_generichash(&digest, 8, name, UInt64(name.count), master.bytes, SecretKey.count)
    let id = digest.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    _ = purpose.kdfContext.withCString { context in
      crypto_kdf_derive_from_key(out, SecretKey.count, UInt64(littleEndian: id), context, master.bytes)
    }
  }
}

/// What a sealed payload is for: each purpose derives its own subkeys.
public enum SealPurpose: UInt8, Sendable, Hashable {
  /// A stored channel message (name: the channel).
  case channel = 1
  /// A stored document update or snapshot (name: the document id).
  case document = 2
  /// The host's own payloads (`rt_seal`; name: the host's context).
  case host = 3

  /// The 8-byte `crypto_kdf` context.
  var kdfContext: String {
    switch self {
    case .channel: "rtchan01"
    case .document: "rtdocs01"
    case .host: "rthost01"
    }
  }
}
