import Foundation
import Testing

@testable import RealtimeCore

/// A core with a signing key (in memory unless `path` is given).
private func makeCore(_ path: String? = nil) throws -> Core {
  let core = try Core(config: CoreConfig(databasePath: path))
  let seed = [UInt8](repeating: 7, count: 32)
  try seed.withUnsafeBytes { try core.tokens.addKey(id: "k1", seed: $0) }
  return core
}

private func verify(_ core: Core, _ token: String, _ type: TokenType = .access) throws -> VerifiedToken {
  try Array(token.utf8).withUnsafeBytes { try core.tokens.verify($0, expecting: type) }
}

private func refresh(_ core: Core, _ token: String) throws -> SessionTokens {
  try Array(token.utf8).withUnsafeBytes { try core.sessions.refresh($0) }
}

/// The error `body` throws, if any.
private func failure(_ body: () throws -> Void) -> RealtimeError? {
  do {
    try body()
    return nil
  } catch let error as RealtimeError {
    return error
  } catch {
    return RealtimeError(.internal, "\(error)")
  }
}

/// Sessions: tokens carry the session id; refresh rotates and detects reuse (revoking the whole
/// family, also under a race); revocation refuses tokens at once; sessions and devices survive a
/// restart.
@Suite struct SessionsTests {
  @Test func startIssuesAnAccessAndARefreshTokenOfTheSession() throws {
    let core = try makeCore()
    let s = try core.sessions.start(subject: "ada", device: "phone", scope: "chat")
    #expect(s.sessionID.utf8.count == 32)
    let access = try verify(core, s.access)
    let refreshToken = try verify(core, s.refresh, .refresh)
    #expect(access.claims.sessionID == s.sessionID && refreshToken.claims.sessionID == s.sessionID)
    #expect(access.claims.subject == "ada" && access.claims.device == "phone" && access.claims.scope == "chat")
    #expect(access.claims.expiresAt - access.claims.issuedAt == 15 * 60)
    #expect(refreshToken.claims.expiresAt - refreshToken.claims.issuedAt == 7 * 86400)
    #expect(String(decoding: access.claimsJSON, as: UTF8.self).contains("\"sid\":\"\(s.sessionID)\""))
    // Plain tokens carry no sid and are not checked against sessions.
    let plain = try core.tokens.issue(subject: "ada")
    #expect(try verify(core, plain).claims.sessionID == "")
    #expect(!String(decoding: try verify(core, plain).claimsJSON, as: UTF8.self).contains("sid"))
  }

  @Test func refreshRotatesAndReuseRevokesTheWholeFamily() throws {
    let core = try makeCore()
    let first = try core.sessions.start(subject: "ada", device: "phone")
    let second = try refresh(core, first.refresh)
    #expect(second.sessionID == first.sessionID)
    #expect(second.refresh != first.refresh && second.access != first.access)
    #expect(try verify(core, second.access).claims.subject == "ada")
    let third = try refresh(core, second.refresh)
    // The first refresh token again: reuse.
    let reuse = failure { _ = try refresh(core, first.refresh) }
    #expect(reuse?.code == .forbidden)
    #expect(reuse?.message.contains("reuse") == true)
    // The whole family is dead: the current refresh token and every access token.
    #expect(failure { _ = try refresh(core, third.refresh) }?.code == .forbidden)
    for token in [first.access, second.access, third.access] {
      #expect(failure { _ = try verify(core, token) }?.code == .forbidden)
    }
    let listed = core.sessions.list(user: "ada")
    #expect(listed.count == 1 && listed[0].revokedReason == Sessions.reuseReason && listed[0].revokedAt != nil)
  }

  @Test func ofConcurrentRefreshesWithOneTokenExactlyOneWinsAndTheFamilyIsRevoked() throws {
    let core = try makeCore()
    for round in 0..<10 {
      let s = try core.sessions.start(subject: "u\(round)", device: "d")
      let racers = 4
      let outcomes = Locked<[Result<SessionTokens, RealtimeError>]>([])
      DispatchQueue.concurrentPerform(iterations: racers) { _ in
        let outcome = Array(s.refresh.utf8).withUnsafeBytes { bytes -> Result<SessionTokens, RealtimeError> in
          do throws(RealtimeError) { return .success(try core.sessions.refresh(bytes)) } catch {
            return .failure(error)
          }
        }
        outcomes.withLock { $0.append(outcome) }
      }
      let all = outcomes.withLock { $0 }
      let winners = all.compactMap { try? $0.get() }
      #expect(winners.count == 1, "round \(round): \(winners.count) winners")
      #expect(all.count == racers)
      for case .failure(let error) in all { #expect(error.code == .forbidden) }
      // A loser presented a spent token: the family, the winner's new tokens included, is revoked.
      if let winner = winners.first {
        #expect(failure { _ = try verify(core, winner.access) }?.code == .forbidden)
        #expect(failure { _ = try refresh(core, winner.refresh) }?.code == .forbidden)
      }
    }
  }

  @Test func revocationRefusesTheSessionsTokensAtOnce() throws {
    let core = try makeCore()
    let a = try core.sessions.start(subject: "ada", device: "phone")
    let b = try core.sessions.start(subject: "ada", device: "laptop")
    let c = try core.sessions.start(subject: "ada", device: "laptop")
    let d = try core.sessions.start(subject: "bob", device: "phone")
    let plain = try core.tokens.issue(subject: "ada", device: "phone")
    try core.sessions.revoke(a.sessionID)
    #expect(failure { _ = try verify(core, a.access) }?.message.contains("revoked") == true)
    #expect(failure { _ = try refresh(core, a.refresh) }?.code == .forbidden)
    try core.sessions.revoke(a.sessionID)  // again: nothing happens
    #expect(try verify(core, b.access).claims.device == "laptop")
    #expect(try core.sessions.revoke(user: "ada", device: "laptop") == 2)
    #expect(failure { _ = try verify(core, b.access) }?.code == .forbidden)
    #expect(failure { _ = try verify(core, c.access) }?.code == .forbidden)
    #expect(try verify(core, d.access).claims.subject == "bob")
    #expect(try core.sessions.revoke(user: "bob") == 1)
    #expect(try core.sessions.revoke(user: "bob") == 0)
    #expect(failure { _ = try verify(core, d.access) }?.code == .forbidden)
    // Tokens without a session are untouched by revocation.
    #expect(try verify(core, plain).claims.subject == "ada")
    #expect(failure { try core.sessions.revoke("0123456789abcdef0123456789abcdef") }?.code == .notFound)
  }

  @Test func aSessionTokenFromAnotherCoreIsRefused() throws {
    let one = try makeCore()
    let other = try makeCore()  // same key, no sessions
    let s = try one.sessions.start(subject: "ada", device: "phone")
    #expect(failure { _ = try verify(other, s.access) }?.message.contains("not known") == true)
    // A Tokens with no session table refuses every token with a sid.
    let bare = Tokens()
    try [UInt8](repeating: 7, count: 32).withUnsafeBytes { try bare.addKey(id: "k1", seed: $0) }
    #expect(
      failure { _ = try Array(s.access.utf8).withUnsafeBytes { try bare.verify($0, expecting: .access) } }?.code
        == .forbidden)
  }

  @Test func refreshRefusesWhatIsNotASessionsRefreshToken() throws {
    let core = try makeCore()
    let s = try core.sessions.start(subject: "ada", device: "phone")
    #expect(failure { _ = try refresh(core, s.access) }?.message.contains("wrong purpose") == true)
    let plain = try core.tokens.issue(subject: "ada", type: .refresh)
    #expect(failure { _ = try refresh(core, plain) }?.message.contains("no session") == true)
    #expect(failure { _ = try refresh(core, "v4.public.garbage") }?.code == .corrupt)
    // Refused attempts do not count as reuse.
    #expect(try refresh(core, s.refresh).sessionID == s.sessionID)
  }

  @Test func argumentsAreChecked() throws {
    let core = try makeCore()
    #expect(failure { _ = try core.sessions.start(subject: "", device: "d") }?.code == .invalidArgument)
    #expect(failure { _ = try core.sessions.start(subject: "a", device: "") }?.code == .invalidArgument)
    #expect(
      failure { _ = try core.sessions.start(subject: "a", device: String(repeating: "d", count: 257)) }?.code
        == .invalidArgument)
    #expect(failure { _ = try core.sessions.start(subject: "a", device: "d", accessTTL: -1) }?.code == .invalidArgument)
    #expect(
      failure {
        _ = try core.sessions.start(subject: "a", device: "d", deviceName: String(repeating: "n", count: 129))
      }?
      .code == .invalidArgument)
    #expect(failure { _ = try Core(config: CoreConfig()).sessions.start(subject: "a", device: "d") }?.code == .state)
  }

  @Test func aUserHasAtMostTheLimitOfLiveSessions() throws {
    let core = try makeCore()
    var first: SessionTokens?
    for i in 0..<Sessions.maxLiveSessionsPerUser {
      let s = try core.sessions.start(subject: "ada", device: "d\(i % 3)")
      if first == nil { first = s }
    }
    #expect(failure { _ = try core.sessions.start(subject: "ada", device: "d") }?.code == .tooLarge)
    _ = try core.sessions.start(subject: "bob", device: "d")
    try core.sessions.revoke(try #require(first).sessionID)
    _ = try core.sessions.start(subject: "ada", device: "d")
  }

  @Test func sessionsAndDevicesSurviveARestart() throws {
    let dir = try TempDir()
    let path = dir.file("s.db")
    let first: SessionTokens
    let second: SessionTokens
    let logout: SessionTokens
    do {
      let core = try makeCore(path)
      first = try core.sessions.start(subject: "ada", device: "phone", deviceName: "Ada's phone")
      second = try refresh(core, first.refresh)
      logout = try core.sessions.start(subject: "ada", device: "laptop")
      try core.sessions.revoke(logout.sessionID)
      try core.close()
    }
    do {
      let core = try makeCore(path)
      // The rotation was durable: the second pair is current, the logout stays.
      #expect(try verify(core, second.access).claims.sessionID == first.sessionID)
      #expect(failure { _ = try verify(core, logout.access) }?.code == .forbidden)
      let listed = core.sessions.list(user: "ada")
      #expect(Set(listed.map(\.id)) == [first.sessionID, logout.sessionID])
      let devices = try core.sessions.devices(user: "ada")
      #expect(Set(devices.map(\.device)) == ["phone", "laptop"])
      #expect(devices.first { $0.device == "phone" }?.name == "Ada's phone")
      // Reusing the rotated token after the restart revokes the family.
      #expect(failure { _ = try refresh(core, first.refresh) }?.message.contains("reuse") == true)
      #expect(failure { _ = try verify(core, second.access) }?.code == .forbidden)
      try core.close()
    }
    do {
      let core = try makeCore(path)
      #expect(failure { _ = try refresh(core, second.refresh) }?.code == .forbidden)
      #expect(core.sessions.list(user: "ada").allSatisfy { $0.revokedAt != nil })
      try core.close()
    }
  }

  @Test func theDeviceRegistryRecordsFirstAndLastSeen() throws {
    let core = try makeCore()
    let a = try core.sessions.start(subject: "ada", device: "phone")
    _ = try core.sessions.start(subject: "ada", device: "laptop", deviceName: "work")
    _ = try core.sessions.start(subject: "bob", device: "tablet")
    _ = try refresh(core, a.refresh)
    let devices = try core.sessions.devices(user: "ada")
    #expect(devices.count == 2)
    for d in devices {
      #expect(d.user == "ada" && d.firstSeen <= d.lastSeen && d.firstSeen > 0)
    }
    #expect(devices.first { $0.device == "laptop" }?.name == "work")
    #expect(devices.first { $0.device == "phone" }?.name == nil)
    #expect(try core.sessions.devices(user: "nobody").isEmpty)
    try core.sessions.nameDevice(user: "ada", device: "phone", name: "pocket")
    #expect(try core.sessions.devices(user: "ada").first { $0.device == "phone" }?.name == "pocket")
    try core.sessions.nameDevice(user: "ada", device: "laptop", name: nil)
    #expect(try core.sessions.devices(user: "ada").first { $0.device == "laptop" }?.name == nil)
    #expect(failure { try core.sessions.nameDevice(user: "bob", device: "phone", name: "x") }?.code == .notFound)
  }
}
