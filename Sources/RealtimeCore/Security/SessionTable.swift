/// The sessions a core knows, in memory, for token verification: every token carrying a `sid`
/// is checked here on each verification, so the check is a dictionary lookup under a mutex and
/// never touches SQLite. `Sessions` loads it at open and keeps it in step with the database.
/// Any thread.
final class SessionTable: Sendable {
  struct State {
    var sessions: [String: SessionRow] = [:]
    /// Session ids per user, for listing and revoking a user's or a device's sessions.
    var byUser: [String: Set<String>] = [:]
    /// When expired sessions are next dropped from memory (seconds since 1970).
    var nextSweep: Int64 = 0

    mutating func insert(_ row: SessionRow) {
      sessions[row.id] = row
      byUser[row.user, default: []].insert(row.id)
    }

    mutating func remove(_ id: String) {
      guard let row = sessions.removeValue(forKey: id) else { return }
      byUser[row.user]?.remove(id)
      if byUser[row.user]?.isEmpty == true { byUser[row.user] = nil }
    }

    /// Drops sessions expired at `now` (their tokens cannot verify any more) at most once a
    /// minute, so memory holds only sessions whose tokens may still be presented.
    mutating func sweep(now: Int64) {
      guard now >= nextSweep else { return }
      nextSweep = now + 60
      for (id, row) in sessions where row.expires <= now { remove(id) }
    }
  }

  let state = Locked(State())

  /// Refuses (`.forbidden`) a token whose session is unknown here or revoked, or names another
  /// user than its session's.
  func check(_ claims: TokenClaims) throws(RealtimeError) {
    let found = state.withLock { $0.sessions[claims.sessionID] }
    guard let row = found, row.user == claims.subject else {
      throw RealtimeError(
        .forbidden, "the token's session is not known to this core (it expired, or another server issued it)")
    }
    if let at = row.revokedAt {
      throw RealtimeError(
        .forbidden,
        "the token's session was revoked at \(UTCTime.format(at) ?? "?") (\(row.revokedReason ?? "revoked")); log in again"
      )
    }
  }
}
