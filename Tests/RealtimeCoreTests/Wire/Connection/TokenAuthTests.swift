import Testing

@testable import RealtimeCore

/// Token auth on the upgrade (`TokenGate`, `SessionConfig.tokenAuth`): a valid access token names
/// the client; none (when required), forged or wrong-purpose ones get 401; expired and revoked
/// ones are accepted, to be closed with 4011 and 4012.
@Suite struct TokenAuthTests {
  private func keyedCore() throws -> Core {
    let core = try Core(config: CoreConfig())
    try [UInt8](repeating: 3, count: 32).withUnsafeBytes { try core.tokens.addKey(id: "k", seed: $0) }
    return core
  }

  private final class Box: WebSocketApplication {
    func sessionOpened(_ session: WebSocketSession) {}
    func session(_ session: WebSocketSession, received message: WebSocketEvent) {}
    func sessionEnded(_ session: WebSocketSession, _ ending: WebSocketSession.Ending) {}
    func serverGoingAway(_ session: WebSocketSession) {}
  }

  private func open(_ core: Core, _ mode: TokenAuth, header: String = "", path: String = "/ws") -> (
    WebSocketSession, RecordingTransport
  ) {
    var config = SessionConfig()
    config.tokenAuth = mode
    config.tokenGate = TokenGate(tokens: core.tokens)
    let transport = RecordingTransport()
    let session = WebSocketSession(config: config, transport: transport)
    session.application = Box()
    upgrade(path: path, extra: header).withUnsafeBytes { session.receive($0) }
    return (session, transport)
  }

  private func refused(_ check: TokenCheck) -> Bool {
    if case .refused = check { return true }
    return false
  }

  @Test func theGateSortsTokens() throws {
    let core = try keyedCore()
    let gate = TokenGate(tokens: core.tokens)
    let s = try core.sessions.start(subject: "ada", device: "phone")
    guard case .identified(let who, let sid, let exp) = gate.check(s.access, mode: .required) else {
      Issue.record("a valid token was not accepted")
      return
    }
    #expect(who == Identity(user: "ada", device: "phone") && sid == s.sessionID && exp > 0)
    let plain = try core.tokens.issue(subject: "bob")
    #expect(
      gate.check(plain, mode: .required)
        == .identified(
          Identity(user: "bob", device: "default")!, sessionID: nil,
          expiresAt: try Array(plain.utf8).withUnsafeBytes { try core.tokens.verify($0, expecting: .access) }.claims
            .expiresAt))
    #expect(gate.check(nil, mode: .optional) == .absent)
    #expect(gate.check("", mode: .optional) == .absent)
    #expect(refused(gate.check(nil, mode: .required)))
    #expect(refused(gate.check(s.refresh, mode: .required)))
    #expect(refused(gate.check("v4.public.AAAA", mode: .optional)))
    let long = try core.tokens.issue(subject: String(repeating: "u", count: 200))
    #expect(refused(gate.check(long, mode: .required)))
    let expired = try core.tokens.issue(subject: "ada", ttl: 60, now: Tokens.systemSeconds() - 3600)
    #expect(
      gate.check(expired, mode: .required)
        == .ended(DisconnectCode.tokenExpired, reason: "token expired: refresh and reconnect"))
    try core.sessions.revoke(s.sessionID)
    guard case .ended(let code, _) = gate.check(s.access, mode: .required) else {
      Issue.record("a revoked session's token passed")
      return
    }
    #expect(code == DisconnectCode.sessionRevoked)
    // A session this core does not know: refused outright.
    let other = try keyedCore()
    let foreign = try other.sessions.start(subject: "ada", device: "phone")
    #expect(refused(gate.check(foreign.access, mode: .required)))
  }

  @Test func theUpgradeTakesTheTokenFromTheQueryOrTheHeader() throws {
    let core = try keyedCore()
    let s = try core.sessions.start(subject: "ada", device: "phone")
    let (byQuery, _) = open(core, .required, path: "/ws?token=\(s.access)")
    #expect(byQuery.phase == .open && byQuery.identity == Identity(user: "ada", device: "phone"))
    #expect(byQuery.tokenSessionID == s.sessionID && byQuery.tokenExpiresAt != nil && byQuery.tokenEnd == nil)
    let (byHeader, _) = open(core, .required, header: "Authorization: Bearer \(s.access)\r\n")
    #expect(byHeader.phase == .open && byHeader.identity?.user == "ada")
    let (none, refused) = open(core, .required)
    #expect(none.phase == .closed && refused.text.hasPrefix("HTTP/1.1 401 "))
    let (anonymous, _) = open(core, .optional)
    #expect(anonymous.phase == .open && anonymous.identity == nil)
    let (forged, forgedOut) = open(core, .optional, path: "/ws?token=\(s.access.dropLast(3))AAA")
    #expect(forged.phase == .closed && forgedOut.text.hasPrefix("HTTP/1.1 401 "))
    let (off, _) = open(core, .off, path: "/ws?token=nonsense")
    #expect(off.phase == .open && off.identity == nil)
    let expired = try core.tokens.issue(subject: "ada", ttl: 60, now: Tokens.systemSeconds() - 3600)
    let (late, lateOut) = open(core, .required, path: "/ws?token=\(expired)")
    #expect(late.phase == .open && lateOut.text.hasPrefix("HTTP/1.1 101 "))
    #expect(late.tokenEnd?.0 == DisconnectCode.tokenExpired && late.identity == nil)
  }
}
