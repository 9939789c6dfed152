/// A parsed HTTP/1.1 request head: request line and header fields.
struct HTTPRequestHead: Sendable {
  /// One header field; `name` is lowercased (field names are case-insensitive).
  struct Field: Sendable, Equatable {
    let name: String
    let value: String
  }

  let method: String
  /// The request target as sent (origin form: path plus optional `?query`).
  let target: String
  let fields: [Field]

  /// The target's path, without the query.
  var path: Substring { target.prefix { $0 != "?" } }

  /// The target's query, without the `?`, or nil.
  var query: Substring? {
    guard let mark = target.firstIndex(of: "?") else { return nil }
    return target[target.index(after: mark)...]
  }

  /// Every value of a field, in order (`name` in lowercase).
  func values(_ name: String) -> [String] { fields.filter { $0.name == name }.map(\.value) }

  /// The comma-separated elements of every value of a field, trimmed, empty ones dropped
  /// (RFC 9110 §5.6.1), case kept.
  func list(_ name: String) -> [String] {
    values(name).flatMap { $0.split(separator: ",", omittingEmptySubsequences: true) }.compactMap { element in
      let trimmed = element.drop { $0 == " " || $0 == "\t" }
      let end = trimmed.lastIndex { $0 != " " && $0 != "\t" }.map { trimmed.index(after: $0) } ?? trimmed.startIndex
      let item = trimmed[..<end]
      return item.isEmpty ? nil : String(item)
    }
  }

  /// `list(name)` lowercased, for case-insensitive tokens (Upgrade, Connection).
  func tokens(_ name: String) -> [String] { list(name).map { $0.lowercased() } }
}

/// An HTTP-level refusal: the status to answer with and why.
struct HTTPError: Error, Sendable, Equatable {
  let status: Int
  let message: String

  init(_ status: Int, _ message: String) {
    self.status = status
    self.message = message
  }

  /// The reason phrase for the statuses this server sends.
  var reason: String {
    switch status {
    case 200: "OK"
    case 400: "Bad Request"
    case 401: "Unauthorized"
    case 403: "Forbidden"
    case 404: "Not Found"
    case 405: "Method Not Allowed"
    case 408: "Request Timeout"
    case 426: "Upgrade Required"
    case 429: "Too Many Requests"
    case 431: "Request Header Fields Too Large"
    case 500: "Internal Server Error"
    case 503: "Service Unavailable"
    case 505: "HTTP Version Not Supported"
    default: "Error"
    }
  }
}
