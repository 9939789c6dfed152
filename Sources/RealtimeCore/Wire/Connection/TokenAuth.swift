#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Whether an endpoint checks the access token of the upgrade itself (`SessionConfig.tokenAuth`).
public enum TokenAuth: Sendable, Equatable {
  /// No: the authentication hook, if any, decides (as before tokens).
  case off
  /// A token, when the client sends one, must be a valid access token and names the client; a
  /// client without one goes on to the hook (anonymous without a hook).
  case optional
  /// Every client must send a valid access token; without one, 401.
  case required
}

/// What the token check of an upgrade concluded.
enum TokenCheck: Equatable {
  /// No token, and none is required: the hook decides.
  case absent
  /// A valid access token: the client is `identity` until `expiresAt` (seconds since 1970).
  case identified(Identity, sessionID: String?, expiresAt: Int64)
  /// An authentic token that can no longer be used (expired, or its session revoked): the
  /// upgrade is accepted and the connection closed at once with `code`, because a browser
  /// cannot read the status of a refused upgrade and could not tell "refresh" from "go away".
  case ended(CloseCode, reason: String)
  /// No usable credentials: 401 with the reason.
  case refused(String)
}

/// Checks upgrade tokens with a core's `Tokens` (and their sessions). Set on the session config
/// by `Core.listen` and `Core.openHostConnection`.
struct TokenGate: Sendable {
  let tokens: Tokens

  func check(_ token: String?, mode: TokenAuth) -> TokenCheck {
    guard let token, !token.isEmpty else {
      return mode == .required
        ? .refused("an access token is required (query token= or Authorization: Bearer)") : .absent
    }
    let result = Array(token.utf8).withUnsafeBytes { bytes -> Result<VerifiedToken, RealtimeError> in
      do throws(RealtimeError) {
        return .success(
          try tokens.verify(bytes, expecting: .access, now: nil, acceptExpired: true, checkSession: false))
      } catch {
        return .failure(error)
      }
    }
    let verified: VerifiedToken
    switch result {
    case .success(let v): verified = v
    case .failure(let error): return .refused("the token was refused: \(error.message)")
    }
    let claims = verified.claims
    if !claims.sessionID.isEmpty {
      guard let table = tokens.sessionTable else { return .refused("the token's session is not known here") }
      do throws(RealtimeError) {
        try table.check(claims)
      } catch {
        // Known but revoked: tell the client to log in again, not to retry the same token.
        let known = table.state.withLock { $0.sessions[claims.sessionID] != nil }
        return known ? .ended(DisconnectCode.sessionRevoked, reason: error.message) : .refused(error.message)
      }
    }
    if claims.expiresAt <= tokens.clock() {
      return .ended(DisconnectCode.tokenExpired, reason: "token expired: refresh and reconnect")
    }
    guard let identity = Identity(user: claims.subject, device: claims.device.isEmpty ? "default" : claims.device)
    else { return .refused("the token's subject or device is longer than an identity's 128 bytes") }
    return .identified(
      identity, sessionID: claims.sessionID.isEmpty ? nil : claims.sessionID, expiresAt: claims.expiresAt)
  }

  /// Milliseconds since 1970 by the real-time clock, which token times are in.
  static func realtimeMs() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
  }
}

/// The live protocol sessions of each token session (`sid`), so revoking a session closes its
/// connections. Loop thread.
final class TokenConnections {
  private var bySession: [String: [UInt64: ProtocolSession]] = [:]

  func add(_ sessionID: String, _ connection: ProtocolSession) {
    bySession[sessionID, default: [:]][connection.id] = connection
  }

  func remove(_ sessionID: String, _ connection: ProtocolSession) {
    bySession[sessionID]?[connection.id] = nil
    if bySession[sessionID]?.isEmpty == true { bySession[sessionID] = nil }
  }

  /// Closes the connections of sessions just revoked with 4012.
  func revoked(_ sessionIDs: [String]) {
    for id in sessionIDs {
      guard let connections = bySession.removeValue(forKey: id) else { continue }
      for connection in connections.values { connection.tokenSessionRevoked() }
    }
  }
}

extension ProtocolSession {
  /// At the upgrade: ends a session whose token can no longer be used, or watches a valid
  /// token — closing with 4011 when it expires, and joining its session's connections so a
  /// revocation closes it with 4012.
  func startTokenWatch(_ session: WebSocketSession) {
    if let (code, reason) = session.tokenEnd {
      disconnect(session, code, reason: reason, reconnect: code == DisconnectCode.tokenExpired)
      return
    }
    guard let expiresAt = session.tokenExpiresAt else { return }
    let delay = max(expiresAt &* 1000 &- TokenGate.realtimeMs(), 0)
    tokenTimer = schedule(UInt64(delay)) { [self] in
      guard let socket = self.socket, self.state != .ended else { return }
      self.disconnect(
        socket, DisconnectCode.tokenExpired, reason: "token expired: refresh and reconnect", reconnect: true)
    }
    if let sid = session.tokenSessionID, let registry = tokenConnections {
      watchedTokenSession = sid
      registry.add(sid, self)
    }
  }

  /// `refresh`: checks the new access token — valid, and of the connection's user and device —
  /// then watches it instead of the old one and answers `ack`. Refused with `unauthorized` (the
  /// old token stays in force) when it is not valid, `forbidden` for another identity or an
  /// endpoint without token auth.
  func refreshToken(_ envelope: Envelope, _ session: WebSocketSession, _ encoding: EnvelopeEncoding)
    throws(ProtocolFault)
  {
    guard state == .connected else { throw ProtocolFault(.notConnected, "send connect first", id: envelope.id) }
    guard let gate = tokenGate else {
      throw ProtocolFault(.forbidden, "this endpoint does not take access tokens (no token auth)", id: envelope.id)
    }
    guard let token = envelope.token, !token.isEmpty else {
      throw ProtocolFault(.badRequest, "refresh needs a token", id: envelope.id)
    }
    switch gate.check(token, mode: .required) {
    case .identified(let who, let sessionID, let expiresAt):
      guard who == session.identity else {
        throw ProtocolFault(
          .forbidden, "the token is for another user or device than this connection's", id: envelope.id)
      }
      stopTokenWatch()
      session.renewToken(expiresAt: expiresAt, sessionID: sessionID)
      startTokenWatch(session)
      send(Envelope(.ack, id: envelope.id), to: session, as: encoding)
    case .ended(_, let reason), .refused(let reason):
      throw ProtocolFault(.unauthorized, reason, id: envelope.id)
    case .absent:
      throw ProtocolFault(.badRequest, "refresh needs a token", id: envelope.id)
    }
  }

  /// A `token` in `connect` on an endpoint with token auth: checked like the upgrade's (the
  /// hook is not asked). Valid, and of the same user and device as an upgrade token if there was
  /// one: the connection is that identity and its token is watched. Otherwise the `connect` is
  /// refused — with 4011 or 4012 for an expired token or a revoked session, 4003 for the rest.
  /// Returns whether the connect may go on.
  func acceptConnectToken(
    _ token: String, _ envelope: Envelope, _ session: WebSocketSession, _ encoding: EnvelopeEncoding
  ) -> Bool {
    guard let gate = tokenGate else { return true }
    switch gate.check(token, mode: .required) {
    case .identified(let who, let sessionID, let expiresAt):
      if let current = session.identity, current != who {
        refuse(
          envelope,
          ProtocolFault(
            .unauthorized, "the connect token names another user or device than the upgrade's", id: envelope.id),
          DisconnectCode.unauthorized, session, encoding)
        return false
      }
      session.identity = who
      stopTokenWatch()
      session.renewToken(expiresAt: expiresAt, sessionID: sessionID)
      startTokenWatch(session)
      return true
    case .ended(let code, let reason):
      refuse(
        envelope, ProtocolFault(.unauthorized, reason, id: envelope.id), code, session, encoding,
        reconnect: code == DisconnectCode.tokenExpired)
      return false
    case .refused(let reason):
      refuse(
        envelope, ProtocolFault(.unauthorized, reason, id: envelope.id), DisconnectCode.unauthorized, session, encoding)
      return false
    case .absent:
      return true
    }
  }

  /// At the end of the session.
  func stopTokenWatch() {
    tokenTimer?.cancel()
    tokenTimer = nil
    if let sid = watchedTokenSession { tokenConnections?.remove(sid, self) }
    watchedTokenSession = nil
  }

  /// The session of this connection's token was revoked: 4012, no reconnect with it.
  func tokenSessionRevoked() {
    watchedTokenSession = nil
    guard let socket, state != .ended else { return }
    disconnect(socket, DisconnectCode.sessionRevoked, reason: "session revoked: log in again", reconnect: false)
  }
}
