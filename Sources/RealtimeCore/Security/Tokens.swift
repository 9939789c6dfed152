import CSodium

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A token that verified, with its claims.
public struct VerifiedToken: Sendable {
  public let claims: TokenClaims
  /// The claims exactly as signed (JSON).
  public let claimsJSON: [UInt8]
  /// The signing key's id (from the footer).
  public let keyID: String
}

/// PASETO v4.public access and refresh tokens (`PasetoV4`) signed with a ring of Ed25519 key
/// pairs by key id. One key is current and signs; every held key verifies, so rotation is: add
/// a key, make it current, remove the old one once the tokens it signed have expired. The key
/// id travels in the footer, `{"kid":"<id>"}`, which picks the verifying key. Secret keys live
/// in libsodium's guarded memory. Any thread.
///
/// Verification refuses, in order: a token that is not a well-formed v4.public token with a
/// key-id footer (`.corrupt`), an unknown key id (`.notFound`), a signature that does not
/// verify or claims that do not parse (`.corrupt`), and then — authentic, but not acceptable —
/// the other type ("wrong purpose"), an expired token, or one issued or valid only more than
/// `clockSkew` seconds in the future (`.forbidden`). A token carrying a session id (`sid`) is
/// also refused (`.forbidden`) when that session is revoked or unknown to the session table the
/// tokens were made with (`Sessions`); tokens without one are not checked against sessions.
public final class Tokens: @unchecked Sendable {
  /// Most signing keys held at once.
  public static let maxKeys = 64
  /// Longest key id, in bytes.
  public static let maxKeyID = 64
  /// Default lifetimes, in seconds: access tokens 15 minutes, refresh tokens 7 days.
  public static let defaultAccessTTL: Int64 = 15 * 60
  public static let defaultRefreshTTL: Int64 = 7 * 86400
  /// Longest lifetime issued.
  public static let maxTTL: Int64 = 400 * 86400
  /// How far in the future `iat` (and `nbf`) may be, for clocks that disagree.
  public static let clockSkew: Int64 = 60
  /// Longest token read, in bytes.
  public static let maxTokenBytes = 12 * 1024
  /// Longest footer read (decoded).
  public static let maxFooterBytes = 256
  /// Longest claims: subject, device, scope (bytes of UTF-8).
  public static let maxSubject = 256
  public static let maxDevice = 256
  public static let maxScope = 1024

  private final class SigningKey: Sendable {
    let publicKey: [UInt8]
    let secret: SecretKey
    init(publicKey: [UInt8], secret: SecretKey) {
      self.publicKey = publicKey
      self.secret = secret
    }
  }

  private struct State {
    var set = KeySet<String, SigningKey>(maxKeys: Tokens.maxKeys, noun: "token key")
  }

  private let state = Locked(State())
  let clock: @Sendable () -> Int64
  /// The sessions that tokens with a `sid` are checked against; nil refuses every such token.
  let sessionTable: SessionTable?

  /// Tokens timed by `clock` (seconds since 1970; the system's real-time clock by default).
  public convenience init(clock: @escaping @Sendable () -> Int64 = Tokens.systemSeconds) {
    self.init(clock: clock, sessionTable: nil)
  }

  /// Tokens whose `sid` claims are checked against `sessionTable`.
  init(clock: @escaping @Sendable () -> Int64, sessionTable: SessionTable?) {
    self.clock = clock
    self.sessionTable = sessionTable
  }

  /// Seconds since 1970 by the system's real-time clock.
  @Sendable public static func systemSeconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec)
  }

  /// Whether `id` is a key id: 1 to 64 bytes of `A-Z a-z 0-9 _ -`.
  public static func isKeyID(_ id: some Collection<UInt8>) -> Bool {
    (1...maxKeyID).contains(id.count)
      && id.allSatisfy { c in
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D
      }
  }

  private static func checkKeyID(_ id: String) throws(RealtimeError) {
    guard isKeyID(id.utf8) else {
      throw RealtimeError(.invalidArgument, "a token key id is 1 to \(maxKeyID) characters of A-Z a-z 0-9 _ -")
    }
  }

  // MARK: Keys

  /// Adds the Ed25519 key pair made from the 32-byte `seed` (`crypto_sign_seed_keypair`) under
  /// `id`; the first key added becomes current. Adding the same id with the same seed again
  /// does nothing. Throws `.invalidArgument` for a bad id, a seed that is not 32 bytes or an id
  /// held with another seed, `.tooLarge` past `maxKeys`, `.noMemory`.
  public func addKey(id: String, seed: UnsafeRawBufferPointer) throws(RealtimeError) {
    try Self.checkKeyID(id)
    guard seed.count == PasetoV4.seedBytes, let seedBase = seed.baseAddress else {
      throw RealtimeError(
        .invalidArgument, "a token key seed is \(PasetoV4.seedBytes) bytes; this one has \(seed.count)")
    }
    var publicKey = [UInt8](repeating: 0, count: PasetoV4.publicKeyBytes)
    guard
      let secret = SecretKey(
        length: PasetoV4.secretKeyBytes,
        filling: { sk in
          _ = crypto_sign_seed_keypair(&publicKey, sk, seedBase.assumingMemoryBound(to: UInt8.self))
        })
    else { throw RealtimeError(.noMemory, "no guarded memory for a key") }
    let key = SigningKey(publicKey: publicKey, secret: secret)
    try state.withLock { s throws(RealtimeError) in
      try s.set.add(key, id: id) { sameSecret($0.secret, $1.secret, count: PasetoV4.secretKeyBytes) }
    }
  }

  /// Makes key `id` the one that signs from now on. Throws `.notFound` for an id not held.
  public func useKey(id: String) throws(RealtimeError) {
    try state.withLock { s throws(RealtimeError) in try s.set.use(id) }
  }

  /// Forgets key `id`: tokens it signed no longer verify. The current key cannot be removed
  /// (`.state`); `.notFound` for an id not held.
  public func removeKey(id: String) throws(RealtimeError) {
    try state.withLock { s throws(RealtimeError) in
      try s.set.remove(id)
    }
  }

  /// The 32-byte Ed25519 public key of `id` (nil: the current key), for other services to
  /// verify with. Throws `.notFound` (or `.state` with no key).
  public func publicKey(id: String? = nil) throws(RealtimeError) -> [UInt8] {
    try state.withLock { s throws(RealtimeError) in
      guard let id = id ?? s.set.current else { throw RealtimeError(.state, "no token key: add one first") }
      guard let key = s.set.keys[id] else { throw RealtimeError(.notFound, "no token key '\(id)'") }
      return key.publicKey
    }
  }

  /// The key that signs, if any.
  public var currentKeyID: String? { state.withLock { $0.set.current } }

  /// The key ids held, sorted.
  public var keyIDs: [String] { state.withLock { $0.set.ids } }

  // MARK: Issuing and verifying

  /// A new token for `subject` on `device` with `scope`, of `type`, valid from `now` (the
  /// clock's by default) for `ttl` seconds (0: 15 minutes for access, 7 days for refresh),
  /// signed with the current key. Throws `.state` with no key, `.invalidArgument` for an empty
  /// or over-long subject, device or scope, a ttl outside 0 to `maxTTL`.
  public func issue(
    subject: String, device: String = "", scope: String = "", type: TokenType = .access, ttl: Int64 = 0,
    now: Int64? = nil
  ) throws(RealtimeError) -> String {
    try make(subject: subject, device: device, scope: scope, type: type, ttl: ttl, now: now).token
  }

  /// Issues a token as `issue` does, with a given `jti` (random when nil) and session id, and
  /// returns its claims too (what `Sessions` records).
  func make(
    subject: String, device: String, scope: String, type: TokenType, ttl: Int64, now: Int64?,
    tokenID: String? = nil, sessionID: String = ""
  ) throws(RealtimeError) -> (token: String, claims: TokenClaims) {
    guard (1...Self.maxSubject).contains(subject.utf8.count) else {
      throw RealtimeError(.invalidArgument, "a token's subject is 1 to \(Self.maxSubject) bytes")
    }
    guard device.utf8.count <= Self.maxDevice else {
      throw RealtimeError(.invalidArgument, "a token's device is at most \(Self.maxDevice) bytes")
    }
    guard scope.utf8.count <= Self.maxScope else {
      throw RealtimeError(.invalidArgument, "a token's scope is at most \(Self.maxScope) bytes")
    }
    guard (0...Self.maxTTL).contains(ttl) else {
      throw RealtimeError(.invalidArgument, "a token's lifetime is 0 (the default) to \(Self.maxTTL) seconds")
    }
    let lifetime = ttl != 0 ? ttl : (type == .access ? Self.defaultAccessTTL : Self.defaultRefreshTTL)
    let issued = now ?? clock()
    let claims = TokenClaims(
      subject: subject, device: device, scope: scope, type: type, issuedAt: issued,
      expiresAt: issued &+ lifetime, tokenID: tokenID ?? Self.randomID(), sessionID: sessionID)
    guard issued >= UTCTime.earliest, issued <= UTCTime.latest - lifetime, let json = claims.json() else {
      throw RealtimeError(.invalidArgument, "the token's times fall outside years 0000 to 9999")
    }
    let (keyID, key) = try state.withLock { s throws(RealtimeError) -> (String, SigningKey) in
      guard let id = s.set.current, let key = s.set.keys[id] else {
        throw RealtimeError(.state, "no token key to sign with: add one (rt_token_key_add)")
      }
      return (id, key)
    }
    let token = PasetoV4.sign(message: json, footer: Self.footer(keyID), implicit: [], secretKey: key.secret.bytes)
    return (token, claims)
  }

  /// 16 random bytes as 32 hex digits: a `jti` or a session id.
  static func randomID() -> String {
    var id = [UInt8](repeating: 0, count: 16)
    randombytes_buf(&id, 16)
    return hex(id)
  }

  /// Verifies `token` and checks it is of `type` and valid at `now` (the clock's by default).
  /// Throws as the type's notes say.
  public func verify(_ token: UnsafeRawBufferPointer, expecting type: TokenType, now: Int64? = nil)
    throws(RealtimeError) -> VerifiedToken
  {
    try verify(token, expecting: type, now: now, acceptExpired: false, checkSession: true)
  }

  /// `verify`, optionally letting an authentic but expired token through (the caller looks at
  /// `expiresAt`) and leaving the session check to the caller: the WebSocket upgrade answers
  /// those with a close code instead of a 401.
  func verify(
    _ token: UnsafeRawBufferPointer, expecting type: TokenType, now: Int64?, acceptExpired: Bool,
    checkSession: Bool
  ) throws(RealtimeError) -> VerifiedToken {
    guard token.count <= Self.maxTokenBytes else {
      throw RealtimeError(.corrupt, "a token of \(token.count) bytes exceeds \(Self.maxTokenBytes)")
    }
    let decoded = try PasetoV4.decode(token)
    let keyID = try Self.keyID(footer: decoded.footer)
    let publicKey = try state.withLock { s throws(RealtimeError) in
      guard let key = s.set.keys[keyID] else {
        throw RealtimeError(.notFound, "the token was signed with key '\(keyID)', which is not held")
      }
      return key.publicKey
    }
    guard PasetoV4.verify(decoded, implicit: [], publicKey: publicKey) else {
      throw RealtimeError(.corrupt, "the token's signature does not verify: forged or altered")
    }
    let (claims, notBefore) = try TokenClaims.parse(decoded.message)
    guard claims.type == type else {
      throw RealtimeError(
        .forbidden, "wrong purpose: \(claims.type.withArticle) token where \(type.withArticle) token is expected")
    }
    let at = now ?? clock()
    guard at < claims.expiresAt || acceptExpired else {
      throw RealtimeError(.forbidden, "the token expired at \(UTCTime.format(claims.expiresAt) ?? "?")")
    }
    guard claims.issuedAt <= at &+ Self.clockSkew else {
      throw RealtimeError(
        .forbidden, "the token was issued in the future (\(UTCTime.format(claims.issuedAt) ?? "?")); check the clocks")
    }
    if let notBefore, notBefore > at &+ Self.clockSkew {
      throw RealtimeError(.forbidden, "the token is not valid before \(UTCTime.format(notBefore) ?? "?")")
    }
    if checkSession && !claims.sessionID.isEmpty {
      guard let sessionTable else {
        throw RealtimeError(.forbidden, "the token belongs to a session, and these tokens keep no sessions")
      }
      try sessionTable.check(claims)
    }
    return VerifiedToken(claims: claims, claimsJSON: decoded.message, keyID: keyID)
  }

  /// The footer naming key `id`.
  static func footer(_ id: String) -> [UInt8] { Array(FlatJSON.encode([("kid", .string(id))]).utf8) }

  /// The key id in `footer`, which must be exactly `{"kid":"<id>"}` (any JSON spacing).
  static func keyID(footer: [UInt8]) throws(RealtimeError) -> String {
    guard !footer.isEmpty else { throw RealtimeError(.corrupt, "the token has no footer naming its key") }
    guard footer.count <= maxFooterBytes else {
      throw RealtimeError(.corrupt, "the token's footer exceeds \(maxFooterBytes) bytes")
    }
    let members: [(key: String, value: FlatJSONValue)]
    do throws(RealtimeError) {
      members = try FlatJSON.parse(footer)
    } catch {
      throw RealtimeError(.corrupt, "the token's footer: \(error.message)")
    }
    guard members.count == 1, members[0].key == "kid", case .string(let id) = members[0].value, isKeyID(id.utf8)
    else { throw RealtimeError(.corrupt, "the token's footer is not {\"kid\":\"<key id>\"}") }
    return id
  }

  static func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
      out.append(digits[Int(b >> 4)])
      out.append(digits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
  }
}
