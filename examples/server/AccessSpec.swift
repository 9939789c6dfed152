import ArgumentParser
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
