/// What a token is for: an access token authorizes calls for minutes; a refresh token only buys
/// new tokens. Each is refused where the other is expected.
public enum TokenType: String, Sendable, Equatable {
  case access
  case refresh

  var withArticle: String { self == .access ? "an access" : "a refresh" }
}

/// The claims a core signs into a token, as a flat JSON object with PASETO's registered names
/// where they exist:
///
/// ```
/// {"sub":"…","device":"…","scope":"…","typ":"access","iat":"2026-11-26T10:00:00Z",
///  "exp":"2026-11-26T10:15:00Z","jti":"<32 hex digits>"}
/// ```
///
/// Tokens of a session (`Sessions`) also carry `"sid":"<32 hex digits>"`, last; tokens without
/// it (`Tokens.issue`) are exactly as before.
public struct TokenClaims: Sendable, Equatable {
  /// The user (`sub`).
  public var subject: String
  /// The device or session the token was issued to (`device`; may be empty).
  public var device: String
  /// What the token allows, space-separated by convention (`scope`; may be empty).
  public var scope: String
  /// `typ`.
  public var type: TokenType
  /// Seconds since 1970 (`iat`).
  public var issuedAt: Int64
  /// Seconds since 1970 (`exp`).
  public var expiresAt: Int64
  /// A random id, 16 bytes as hex (`jti`): what refresh rotation compares.
  public var tokenID: String
  /// The session (refresh-token family) the token belongs to (`sid`); empty for a token issued
  /// outside sessions, which no session check applies to.
  public var sessionID: String

  public init(
    subject: String, device: String, scope: String, type: TokenType, issuedAt: Int64, expiresAt: Int64,
    tokenID: String, sessionID: String = ""
  ) {
    self.subject = subject
    self.device = device
    self.scope = scope
    self.type = type
    self.issuedAt = issuedAt
    self.expiresAt = expiresAt
    self.tokenID = tokenID
    self.sessionID = sessionID
  }

  /// The claims as JSON; nil when a time is outside years 0000 to 9999.
  public func json() -> [UInt8]? {
    guard let iat = UTCTime.format(issuedAt), let exp = UTCTime.format(expiresAt) else { return nil }
    var members: [(key: String, value: FlatJSONValue)] = [
      ("sub", .string(subject)), ("device", .string(device)), ("scope", .string(scope)),
      ("typ", .string(type.rawValue)), ("iat", .string(iat)), ("exp", .string(exp)), ("jti", .string(tokenID)),
    ]
    if !sessionID.isEmpty { members.append((key: "sid", value: .string(sessionID))) }
    return Array(FlatJSON.encode(members).utf8)
  }

  /// The claims in `json`, a flat object: `sub`, `typ`, `iat`, `exp` required; `device`,
  /// `scope`, `jti`, `sid` optional strings (empty when absent); other members ignored. Also returns
  /// `nbf` when present. Throws `.corrupt` saying what is missing or malformed.
  static func parse(_ json: [UInt8]) throws(RealtimeError) -> (claims: TokenClaims, notBefore: Int64?) {
    let members: [(key: String, value: FlatJSONValue)]
    do throws(RealtimeError) {
      members = try FlatJSON.parse(json)
    } catch {
      throw RealtimeError(.corrupt, "the token's claims: \(error.message)")
    }
    var values: [String: FlatJSONValue] = [:]
    for member in members { values[member.key] = member.value }
    func string(_ key: String, required: Bool) throws(RealtimeError) -> String? {
      switch values[key] {
      case .string(let s)?: return s
      case nil where !required: return nil
      case nil: throw RealtimeError(.corrupt, "the token's claims lack \"\(key)\"")
      default: throw RealtimeError(.corrupt, "the token's claim \"\(key)\" is not a string")
      }
    }
    func time(_ key: String, required: Bool) throws(RealtimeError) -> Int64? {
      guard let text = try string(key, required: required) else { return nil }
      guard let seconds = UTCTime.parse(text.utf8) else {
        throw RealtimeError(.corrupt, "the token's claim \"\(key)\" is not an ISO 8601 time (YYYY-MM-DDTHH:MM:SSZ)")
      }
      return seconds
    }
    let typ = try string("typ", required: true) ?? ""
    guard let type = TokenType(rawValue: typ) else {
      throw RealtimeError(.corrupt, "the token's type \(FlatJSON.quoted(typ)) is neither \"access\" nor \"refresh\"")
    }
    let claims = TokenClaims(
      subject: try string("sub", required: true) ?? "", device: try string("device", required: false) ?? "",
      scope: try string("scope", required: false) ?? "", type: type, issuedAt: try time("iat", required: true) ?? 0,
      expiresAt: try time("exp", required: true) ?? 0, tokenID: try string("jti", required: false) ?? "",
      sessionID: try string("sid", required: false) ?? "")
    return (claims, try time("nbf", required: false))
  }
}
