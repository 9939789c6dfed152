import ArgumentParser
import Foundation
import Logging
import RealtimeCore

/// A `--member` value: `WORKSPACE:USER:ROLE`, ROLE one of none, guest, member, admin, owner (or
/// the seeds' titles staff, manager, ceo). The user is what lies between the first and the last
/// `:`, so it may hold `:` itself.
struct MemberSpec: ExpressibleByArgument {
  let workspace: String
  let user: String
  let role: Role

  init?(argument: String) {
    guard let first = argument.firstIndex(of: ":"), let last = argument.lastIndex(of: ":"), first < last,
      let role = Role(name: String(argument[argument.index(after: last)...]))
    else { return nil }
    workspace = String(argument[..<first])
    user = String(argument[argument.index(after: first)..<last])
    self.role = role
  }

  static var defaultValueDescription: String { "WORKSPACE:USER:ROLE" }
}

/// An `--access-rule` value: `NAME,ACTION=ROLE` (channel and document names hold no `,`), e.g.
/// `chat:acme/announcements,publish=admin`; ROLE `inherit` removes the name's rule.
struct AccessRuleSpec: ExpressibleByArgument {
  let name: String
  let action: AccessAction
  let minimum: Role?

  init?(argument: String) {
    guard let comma = argument.lastIndex(of: ","), let equals = argument.lastIndex(of: "="), comma < equals,
      let action = AccessAction(name: String(argument[argument.index(after: comma)..<equals]))
    else { return nil }
    let role = String(argument[argument.index(after: equals)...])
    if role == "inherit" {
      minimum = nil
    } else {
      guard let parsed = Role(name: role) else { return nil }
      minimum = parsed
    }
    name = String(argument[..<comma])
    self.action = action
  }

  static var defaultValueDescription: String { "NAME,ACTION=ROLE" }
}

/// The memberships of `--members-file`, and what the last read of it set, so a member the file
/// no longer lists is removed on the next read.
final class MembersFile {
  private var listed: Set<String> = []

  /// Reads `path` (one `WORKSPACE:USER:ROLE` a line; blank lines and `#` comments skipped) and
  /// applies it: every line's role, and `none` for members listed last time but not now. A bad
  /// line refuses the whole file before anything changes.
  func reload(_ path: String, into core: Core, logger: Logger) throws {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var specs: [MemberSpec] = []
    for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = raw.trimmingCharacters(in: .whitespaces)
      if line.isEmpty || line.hasPrefix("#") { continue }
      guard let spec = MemberSpec(argument: line) else {
        throw ValidationError("\(path):\(number + 1): expected WORKSPACE:USER:ROLE, got '\(line.prefix(200))'")
      }
      specs.append(spec)
    }
    var now: Set<String> = []
    for spec in specs {
      try core.access.setRole(spec.role, user: spec.user, in: spec.workspace)
      now.insert(spec.workspace + ":" + spec.user)
    }
    for gone in listed.subtracting(now) {
      guard let colon = gone.firstIndex(of: ":") else { continue }
      try core.access.setRole(.none, user: String(gone[gone.index(after: colon)...]), in: String(gone[..<colon]))
    }
    listed = now
    logger.info("members file \(path): \(specs.count) memberships applied")
  }
}
