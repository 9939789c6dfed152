import ArgumentParser
import Foundation
import RealtimeCore

/// `--token-auth`: whether the WebSocket upgrade checks access tokens.
enum TokenAuthOption: String, ExpressibleByArgument, CaseIterable {
  case off, optional, required
  var value: TokenAuth {
    switch self {
    case .off: .off
    case .optional: .optional
    case .required: .required
    }
  }
}

/// The 32-byte seed in `hex` (64 hex digits), or nil.
func seedBytes(hex: String) -> [UInt8]? {
  let digits = Array(hex.utf8)
  guard digits.count == 64 else { return nil }
  var out: [UInt8] = []
  for i in stride(from: 0, to: 64, by: 2) {
    guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
    out.append(byte)
  }
  return out
}

/// INSECURE development endpoints for tests and demos (`--dev-token-endpoints`): anyone who can
/// reach the server can mint tokens for any user. A real host starts sessions after checking a
/// password (rt_password_verify) in its own login endpoint.
///
///     GET /dev/session?user=U&device=D[&access_ttl=S]   {"sid","access","refresh"}
///     GET /dev/refresh?token=T                          {"sid","access","refresh"} or 403
///     GET /dev/revoke?sid=S                             {"revoked":S}
///     GET /dev/token?user=U&device=D&ttl=S[&ago=S]      {"token"}: no session, issued S ago
struct DevTokenEndpoints: Sendable {
  let core: Core

  func respond(_ request: HTTPRequestInfo) -> HTTPResponse? {
    guard request.path.hasPrefix("/dev/") else { return nil }
    var query: [String: String] = [:]
    for pair in (request.query ?? "").split(separator: "&") {
      let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
      if parts.count == 2 { query[parts[0]] = parts[1].removingPercentEncoding ?? parts[1] }
    }
    do {
      switch request.path {
      case "/dev/session":
        let s = try core.sessions.start(
          subject: query["user"] ?? "", device: query["device"] ?? "", accessTTL: Int64(query["access_ttl"] ?? "0") ?? 0
        )
        return json(200, ["sid": s.sessionID, "access": s.access, "refresh": s.refresh])
      case "/dev/refresh":
        let token = Array((query["token"] ?? "").utf8)
        let s = try token.withUnsafeBytes { try core.sessions.refresh($0) }
        return json(200, ["sid": s.sessionID, "access": s.access, "refresh": s.refresh])
      case "/dev/revoke":
        try core.sessions.revoke(query["sid"] ?? "")
        return json(200, ["revoked": query["sid"] ?? ""])
      case "/dev/token":
        let ago = Int64(query["ago"] ?? "0") ?? 0
        let token = try core.tokens.issue(
          subject: query["user"] ?? "", device: query["device"] ?? "", ttl: Int64(query["ttl"] ?? "0") ?? 0,
          now: Tokens.systemSeconds() - ago)
        return json(200, ["token": token])
      default:
        return json(404, ["error": "no such development endpoint"])
      }
    } catch let error as RealtimeError {
      return json(error.code == .forbidden ? 403 : 400, ["error": error.message])
    } catch {
      return json(500, ["error": "\(error)"])
    }
  }

  private func json(_ status: Int, _ object: [String: String]) -> HTTPResponse {
    let body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    return HTTPResponse(status: status, contentType: "application/json", body: Array(body))
  }
}
