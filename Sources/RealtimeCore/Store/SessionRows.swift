/// One session as stored in `rt_sessions` (times in seconds since 1970).
struct SessionRow: Sendable, Equatable {
  var id: String
  var user: String
  var device: String
  var scope: String
  var created: Int64
  var refreshed: Int64
  /// The `jti` of the one refresh token of the family that may still be used.
  var refreshJTI: String
  var accessTTL: Int64
  var refreshTTL: Int64
  var expires: Int64
  var revokedAt: Int64?
  var revokedReason: String?
}

/// One device of a user as stored in `rt_devices`.
public struct DeviceInfo: Sendable, Equatable {
  public var user: String
  public var device: String
  /// Seconds since 1970: the first and the latest session start or refresh from it.
  public var firstSeen: Int64
  public var lastSeen: Int64
  /// A name the user gave it, if any.
  public var name: String?
}

/// The writes of `Sessions`, applied by the store's writer (`StoreWriter.commitNow`).
enum SessionWrite: Sendable {
  /// A new session.
  case insert(SessionRow)
  /// A rotation: the family's current refresh token is now `jti`, valid until `expires`.
  case rotate(id: String, jti: String, refreshed: Int64, expires: Int64)
  /// Revokes sessions not revoked already; the first revocation's time and reason stay.
  case revoke(ids: [String], time: Int64, reason: String)
  /// Records that `device` of `user` was seen at `time`, with its name when given.
  case deviceSeen(user: String, device: String, time: Int64, name: String?)
  /// Sets (nil: clears) the name of a registered device; `.notFound` if it is not registered.
  case deviceName(user: String, device: String, name: String?)
  /// Deletes sessions that expired before `time`: their tokens can no longer verify.
  case prune(before: Int64)
}

extension StoreWriter {
  /// Applies a session write. Prepared per call: these writes come a few per login, not per
  /// message, so caching statements would buy nothing.
  func apply(_ write: SessionWrite) throws(RealtimeError) {
    let db = try db()
    switch write {
    case .insert(let row):
      let stmt = try db.prepare(
        """
        INSERT INTO rt_sessions(id, user, device, scope, created, refreshed, refresh_jti, access_ttl, refresh_ttl,
          expires, revoked_at, revoked_reason)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, NULL)
        """)
      try stmt.bind(1, row.id)
      try stmt.bind(2, row.user)
      try stmt.bind(3, row.device)
      try stmt.bind(4, row.scope)
      try stmt.bind(5, row.created)
      try stmt.bind(6, row.refreshed)
      try stmt.bind(7, row.refreshJTI)
      try stmt.bind(8, row.accessTTL)
      try stmt.bind(9, row.refreshTTL)
      try stmt.bind(10, row.expires)
      _ = try stmt.step()
    case .rotate(let id, let jti, let refreshed, let expires):
      // revoked_at is left alone: a revocation that committed first stays.
      let stmt = try db.prepare(
        "UPDATE rt_sessions SET refresh_jti = ?2, refreshed = ?3, expires = ?4 WHERE id = ?1")
      try stmt.bind(1, id)
      try stmt.bind(2, jti)
      try stmt.bind(3, refreshed)
      try stmt.bind(4, expires)
      _ = try stmt.step()
    case .revoke(let ids, let time, let reason):
      let stmt = try db.prepare(
        "UPDATE rt_sessions SET revoked_at = ?2, revoked_reason = ?3 WHERE id = ?1 AND revoked_at IS NULL")
      for id in ids {
        defer { stmt.reset() }
        try stmt.bind(1, id)
        try stmt.bind(2, time)
        try stmt.bind(3, reason)
        _ = try stmt.step()
      }
    case .deviceSeen(let user, let device, let time, let name):
      let stmt = try db.prepare(
        """
        INSERT INTO rt_devices(user, device, first_seen, last_seen, name) VALUES (?1, ?2, ?3, ?3, ?4)
        ON CONFLICT(user, device) DO UPDATE SET
          last_seen = max(last_seen, excluded.last_seen), name = coalesce(excluded.name, name)
        """)
      try stmt.bind(1, user)
      try stmt.bind(2, device)
      try stmt.bind(3, time)
      if let name { try stmt.bind(4, name) }
      _ = try stmt.step()
    case .deviceName(let user, let device, let name):
      let stmt = try db.prepare("UPDATE rt_devices SET name = ?3 WHERE user = ?1 AND device = ?2")
      try stmt.bind(1, user)
      try stmt.bind(2, device)
      if let name { try stmt.bind(3, name) }
      _ = try stmt.step()
      guard db.changes == 1 else {
        throw RealtimeError(
          .notFound, "the user has no device '\(device.prefix(256))' (it appears with its first session)")
      }
    case .prune(let before):
      let stmt = try db.prepare("DELETE FROM rt_sessions WHERE expires < ?1")
      try stmt.bind(1, before)
      _ = try stmt.step()
    }
  }
}

/// Reads of the sessions and devices tables (reader connection; not on the verification path).
enum SessionRows {
  /// Every session that has not expired at `now`, for the in-memory table at open.
  static func live(_ store: Store, now: Int64) throws(RealtimeError) -> [SessionRow] {
    try store.read { db throws(RealtimeError) in
      let stmt = try db.prepare(
        """
        SELECT id, user, device, scope, created, refreshed, refresh_jti, access_ttl, refresh_ttl, expires,
          revoked_at, revoked_reason
        FROM rt_sessions WHERE expires > ?1
        """)
      try stmt.bind(1, now)
      var rows: [SessionRow] = []
      while try stmt.step() {
        rows.append(
          SessionRow(
            id: stmt.text(0), user: stmt.text(1), device: stmt.text(2), scope: stmt.text(3), created: stmt.int64(4),
            refreshed: stmt.int64(5), refreshJTI: stmt.text(6), accessTTL: stmt.int64(7),
            refreshTTL: stmt.int64(8), expires: stmt.int64(9), revokedAt: stmt.isNull(10) ? nil : stmt.int64(10),
            revokedReason: stmt.isNull(11) ? nil : stmt.text(11)))
      }
      return rows
    }
  }

  /// The devices of `user`, most recently seen first.
  static func devices(_ store: Store, user: String) throws(RealtimeError) -> [DeviceInfo] {
    try store.read { db throws(RealtimeError) in
      let stmt = try db.prepare(
        "SELECT device, first_seen, last_seen, name FROM rt_devices WHERE user = ?1 ORDER BY last_seen DESC, device")
      try stmt.bind(1, user)
      var devices: [DeviceInfo] = []
      while try stmt.step() {
        devices.append(
          DeviceInfo(
            user: user, device: stmt.text(0), firstSeen: stmt.int64(1), lastSeen: stmt.int64(2),
            name: stmt.isNull(3) ? nil : stmt.text(3)))
      }
      return devices
    }
  }
}
