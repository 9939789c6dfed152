import ArgumentParser
import Foundation
import RealtimeCore

/// The browser client's files, read once at startup and served from memory: no file system access
/// per request, so no path can escape the web root.
struct StaticFiles: Sendable {
  private let files: [String: (type: String, body: [UInt8])]

  /// Loads every regular file under `root` (at most 32 MiB in all).
  init(root: String) throws {
    var files: [String: (String, [UInt8])] = [:]
    var total = 0
    let base = URL(fileURLWithPath: root).standardizedFileURL
    guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey]) else {
      throw ValidationError("cannot read the web root \(root)")
    }
    for case let url as URL in walker {
      guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
      let data = try Data(contentsOf: url)
      total += data.count
      guard total <= 32 << 20 else { throw ValidationError("the web root \(root) holds more than 32 MiB") }
      let relative = String(url.standardizedFileURL.path.dropFirst(base.path.count))
      files[relative] = (StaticFiles.contentType(url.pathExtension), Array(data))
    }
    self.files = files
  }

  var count: Int { files.count }

  /// Answers GET and HEAD for a known file (`/` is `/index.html`); nil otherwise (404).
  func respond(_ request: HTTPRequestInfo) -> HTTPResponse? {
    guard request.method == "GET" || request.method == "HEAD" else { return nil }
    let path = request.path == "/" ? "/index.html" : request.path
    guard let file = files[path] else { return nil }
    return HTTPResponse(status: 200, contentType: file.type, body: file.body)
  }

  private static func contentType(_ ext: String) -> String {
    switch ext.lowercased() {
    case "html": "text/html; charset=utf-8"
    case "js", "mjs": "text/javascript; charset=utf-8"
    case "css": "text/css; charset=utf-8"
    case "json": "application/json"
    case "svg": "image/svg+xml"
    case "png": "image/png"
    case "ico": "image/x-icon"
    default: "application/octet-stream"
    }
  }
}
