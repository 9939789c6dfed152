/// The tokens of a session start or a refresh.
public struct SessionTokens: Sendable {
  /// The session (refresh-token family), 32 hex digits: the `sid` of both tokens.
  public let sessionID: String
  public let access: String
  public let refresh: String
  /// Seconds since 1970.
  public let accessExpiresAt: Int64
  public let refreshExpiresAt: Int64
}

/// What `Sessions.list` tells about one session. Times in seconds since 1970.
public struct SessionInfo: Sendable, Equatable {
  public let id: String
  public let user: String
  public let device: String
  public let scope: String
  public let created: Int64
  /// The latest rotation (the start, before any).
  public let refreshed: Int64
  /// When the current refresh token expires, and the session with it.
  public let expires: Int64
  /// When it was revoked, and why; nil while it is live.
  public let revokedAt: Int64?
  public let revokedReason: String?
}

/// Sessions and devices (`docs/security.md`, "Sessions and devices"). A session is one refresh-
/// token family for one user on one device: `start` issues an access and a refresh token that
/// both carry its id (`sid`); `refresh` trades the family's current refresh token for a new pair
/// (rotation). Presenting a refresh token of the family that was already traded — a copy an
/// attacker kept, or the loser of two concurrent refreshes — is reuse: the whole family is
/// revoked, and every token carrying its `sid` is refused from then on, access tokens included.
///
/// The database holds the sessions and a registry of each user's devices; every change is
/// committed before the call returns (`StoreWriter.commitNow`), so a rotation answered is a
/// rotation that survives a crash. Verification reads only the in-memory `SessionTable`,
/// loaded at open. Any thread; calls block for their commit.
public final class Sessions: @unchecked Sendable {
  /// Live (unrevoked, unexpired) sessions one user may hold; more are refused (`.tooLarge`).
  public static let maxLiveSessionsPerUser = 256
  /// Longest device name, in bytes.
  public static let maxDeviceName = 128

  let table: SessionTable
  private let tokens: Tokens
  private let store: Store
  /// Told the ids of sessions just revoked, to close their live connections.
  private let onRevoked: @Sendable ([String]) -> Void

  /// Loads the sessions of `store` that have not expired and deletes the rows of those that have.
  init(
    store: Store, tokens: Tokens, table: SessionTable, onRevoked: @escaping @Sendable ([String]) -> Void
  ) throws(RealtimeError) {
    self.store = store
    self.tokens = tokens
    self.table = table
    self.onRevoked = onRevoked
    let now = tokens.clock()
    let rows = try SessionRows.live(store, now: now)
    table.state.withLock { s in
      for row in rows { s.insert(row) }
      s.nextSweep = now + 60
    }
    try store.writer.commitNow([.session(.prune(before: now))])
  }

  private static func checkDevice(_ device: String) throws(RealtimeError) {
    guard (1...Tokens.maxDevice).contains(device.utf8.count) else {
      throw RealtimeError(.invalidArgument, "a session's device is 1 to \(Tokens.maxDevice) bytes")
    }
  }

  private static func checkTTL(_ ttl: Int64, _ name: String) throws(RealtimeError) {
    guard (0...Tokens.maxTTL).contains(ttl) else {
      throw RealtimeError(.invalidArgument, "\(name) is 0 (the default) to \(Tokens.maxTTL) seconds")
    }
  }

  /// Starts a session for `subject` on `device` (1 to 256 bytes each; `scope` up to 1024) and
  /// registers the device (with `deviceName`, up to 128 bytes, when given). The access token
  /// lives `accessTTL` seconds (0: 15 minutes), the refresh token and the session `refreshTTL`
  /// (0: 7 days), renewed by each refresh. Throws `.invalidArgument` for a bad argument,
  /// `.tooLarge` past `maxLiveSessionsPerUser`, `.state` with no token key, a store error if
  /// the commit fails (nothing is started then).
  public func start(
    subject: String, device: String, scope: String = "", accessTTL: Int64 = 0, refreshTTL: Int64 = 0,
    deviceName: String? = nil
  ) throws(RealtimeError) -> SessionTokens {
    try Self.checkDevice(device)
    try Self.checkTTL(accessTTL, "an access token's lifetime")
    try Self.checkTTL(refreshTTL, "a refresh token's lifetime")
    if let deviceName, deviceName.utf8.count > Self.maxDeviceName {
      throw RealtimeError(.invalidArgument, "a device name is at most \(Self.maxDeviceName) bytes")
    }
    let now = tokens.clock()
    let sid = Tokens.randomID()
    let pair = try issuePair(
      subject: subject, device: device, scope: scope, accessTTL: accessTTL, refreshTTL: refreshTTL, now: now,
      sid: sid, refreshJTI: Tokens.randomID())
    let row = SessionRow(
      id: sid, user: subject, device: device, scope: scope, created: now, refreshed: now,
      refreshJTI: pair.refreshJTI, accessTTL: accessTTL, refreshTTL: refreshTTL, expires: pair.tokens.refreshExpiresAt)
    // In memory first, with the per-user limit checked and the slot taken in one step.
    try table.state.withLock { s throws(RealtimeError) in
      s.sweep(now: now)
      let live = (s.byUser[subject] ?? []).count { id in
        guard let other = s.sessions[id] else { return false }
        return other.revokedAt == nil && other.expires > now
      }
      guard live < Self.maxLiveSessionsPerUser else {
        throw RealtimeError(
          .tooLarge, "user has \(live) live sessions, the most allowed; revoke some (log out other devices) first")
      }
      s.insert(row)
    }
    do {
      try store.writer.commitNow([
        .session(.insert(row)), .session(.deviceSeen(user: subject, device: device, time: now, name: deviceName)),
      ])
    } catch {
      table.state.withLock { $0.remove(sid) }
      throw error
    }
    return pair.tokens
  }

  /// Trades the refresh token `token` (its bytes) for a new access and refresh token of the same
  /// session. Throws `.forbidden` when the token is not acceptable (expired, wrong purpose, no
  /// session, revoked session) and on reuse — a refresh token of the family other than its
  /// current one — after revoking the whole family; `.corrupt`/`.notFound` as `Tokens.verify`.
  /// Of two concurrent refreshes with the same token exactly one wins; the other is reuse.
  public func refresh(_ token: UnsafeRawBufferPointer) throws(RealtimeError) -> SessionTokens {
    let verified = try tokens.verify(token, expecting: .refresh)
    let claims = verified.claims
    guard !claims.sessionID.isEmpty else {
      throw RealtimeError(
        .forbidden, "this refresh token belongs to no session (made by Tokens.issue); start a session to rotate")
    }
    let now = tokens.clock()
    let newJTI = Tokens.randomID()
    enum Claim {
      case won(SessionRow)
      case reused
    }
    // The compare-and-swap: the presented jti must be the family's current one.
    let claim = try table.state.withLock { s throws(RealtimeError) -> Claim in
      guard var row = s.sessions[claims.sessionID] else {
        throw RealtimeError(.forbidden, "the token's session is not known to this core")
      }
      if row.revokedAt != nil {
        throw RealtimeError(.forbidden, "the session was revoked (\(row.revokedReason ?? "revoked")); log in again")
      }
      guard row.refreshJTI == claims.tokenID else {
        row.revokedAt = now
        row.revokedReason = Self.reuseReason
        s.sessions[row.id] = row
        return .reused
      }
      let before = row
      row.refreshJTI = newJTI
      row.refreshed = now
      s.sessions[row.id] = row
      return .won(before)
    }
    guard case .won(let before) = claim else {
      try? store.writer.commitNow([.session(.revoke(ids: [claims.sessionID], time: now, reason: Self.reuseReason))])
      onRevoked([claims.sessionID])
      throw RealtimeError(
        .forbidden,
        "refresh token reuse: this token was already exchanged, so it may have been stolen; the whole session is revoked"
      )
    }
    do {
      let pair = try issuePair(
        subject: before.user, device: before.device, scope: before.scope, accessTTL: before.accessTTL,
        refreshTTL: before.refreshTTL, now: now, sid: before.id, refreshJTI: newJTI)
      try store.writer.commitNow([
        .session(.rotate(id: before.id, jti: newJTI, refreshed: now, expires: pair.tokens.refreshExpiresAt)),
        .session(.deviceSeen(user: before.user, device: before.device, time: now, name: nil)),
      ])
      table.state.withLock { s in
        if var row = s.sessions[before.id], row.refreshJTI == newJTI {
          row.expires = pair.tokens.refreshExpiresAt
          s.sessions[before.id] = row
        }
      }
      return pair.tokens
    } catch {
      // Not rotated after all: the presented token stays the current one, unless another
      // call has changed the family meanwhile (then that call's outcome stands).
      table.state.withLock { s in
        if var row = s.sessions[before.id], row.refreshJTI == newJTI {
          row.refreshJTI = before.refreshJTI
          row.refreshed = before.refreshed
          s.sessions[before.id] = row
        }
      }
      throw error
    }
  }

  static let reuseReason = "refresh token reuse"

  private func issuePair(
    subject: String, device: String, scope: String, accessTTL: Int64, refreshTTL: Int64, now: Int64, sid: String,
    refreshJTI: String
  ) throws(RealtimeError) -> (tokens: SessionTokens, refreshJTI: String) {
    let refresh = try tokens.make(
      subject: subject, device: device, scope: scope, type: .refresh, ttl: refreshTTL, now: now,
      tokenID: refreshJTI, sessionID: sid)
    let access = try tokens.make(
      subject: subject, device: device, scope: scope, type: .access, ttl: accessTTL, now: now, sessionID: sid)
    let tokens = SessionTokens(
      sessionID: sid, access: access.token, refresh: refresh.token, accessExpiresAt: access.claims.expiresAt,
      refreshExpiresAt: refresh.claims.expiresAt)
    return (tokens, refreshJTI)
  }

  // MARK: Revocation

  /// Revokes session `id` (logout): its tokens are refused from now on and its live connections
  /// closed. Revoking a revoked session does nothing. Throws `.notFound` for a session this core
  /// does not hold (unknown or expired).
  public func revoke(_ id: String, reason: String = "logged out") throws(RealtimeError) {
    let known = table.state.withLock { $0.sessions[id] != nil }
    guard known else { throw RealtimeError(.notFound, "no live session '\(id.prefix(64))'") }
    _ = try revoke(among: [id], reason: reason) { _ in true }
  }

  /// Revokes every session of `user` on `device` (forget a device); returns how many were live.
  @discardableResult
  public func revoke(user: String, device: String, reason: String = "device signed out") throws(RealtimeError)
    -> Int
  {
    try revoke(user: user, reason: reason) { $0.device == device }
  }

  /// Revokes every session of `user` (sign out everywhere); returns how many were live.
  @discardableResult
  public func revoke(user: String, reason: String = "signed out everywhere") throws(RealtimeError) -> Int {
    try revoke(user: user, reason: reason) { _ in true }
  }

  private func revoke(user: String, reason: String, where match: (SessionRow) -> Bool) throws(RealtimeError) -> Int {
    let ids = table.state.withLock { $0.byUser[user] ?? [] }
    return try revoke(among: ids, reason: reason, where: match)
  }

  /// Marks the matching live sessions revoked in memory (refused at once), has their
  /// connections closed, then commits. Memory goes first: a revocation must never wait on the disk to take
  /// effect; if the commit fails the error says so and the session stays refused here.
  private func revoke(among candidates: Set<String>, reason: String, where match: (SessionRow) -> Bool)
    throws(RealtimeError) -> Int
  {
    let now = tokens.clock()
    let ids = table.state.withLock { s -> [String] in
      var ids: [String] = []
      for id in candidates {
        guard let row = s.sessions[id], row.revokedAt == nil, match(row) else { continue }
        var revoked = row
        revoked.revokedAt = now
        revoked.revokedReason = reason
        s.sessions[id] = revoked
        ids.append(id)
      }
      return ids
    }
    guard !ids.isEmpty else { return 0 }
    onRevoked(ids)
    try store.writer.commitNow([.session(.revoke(ids: ids, time: now, reason: reason))])
    return ids.count
  }

  // MARK: Listing

  /// The sessions of `user` this core holds (live and revoked, not expired), newest first.
  public func list(user: String) -> [SessionInfo] {
    let rows = table.state.withLock { s in (s.byUser[user] ?? []).compactMap { s.sessions[$0] } }
    let now = tokens.clock()
    return
      rows
      .filter { $0.expires > now }
      .sorted { ($0.created, $0.id) > ($1.created, $1.id) }
      .map {
        SessionInfo(
          id: $0.id, user: $0.user, device: $0.device, scope: $0.scope, created: $0.created, refreshed: $0.refreshed,
          expires: $0.expires, revokedAt: $0.revokedAt, revokedReason: $0.revokedReason)
      }
  }

  /// The devices `user` has started sessions from, most recently seen first.
  public func devices(user: String) throws(RealtimeError) -> [DeviceInfo] {
    try SessionRows.devices(store, user: user)
  }

  /// Names (or, with nil, unnames) `device` of `user`, for the user's list of devices. Throws
  /// `.notFound` for a device the user never started a session from, `.invalidArgument` for a
  /// name over `maxDeviceName` bytes.
  public func nameDevice(user: String, device: String, name: String?) throws(RealtimeError) {
    if let name, name.utf8.count > Self.maxDeviceName {
      throw RealtimeError(.invalidArgument, "a device name is at most \(Self.maxDeviceName) bytes")
    }
    try store.writer.commitNow([.session(.deviceName(user: user, device: device, name: name))])
  }

  /// Whether the session `id` is live (known here and not revoked); for connections to check.
  func isLive(_ id: String) -> Bool {
    table.state.withLock { $0.sessions[id].map { $0.revokedAt == nil } ?? false }
  }
}
