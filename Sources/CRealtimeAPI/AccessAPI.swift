import CRealtimeHeader
import RealtimeCore

/// An RT_ROLE_* value, or an error naming the argument.
private func role(_ value: Int32, _ name: String) throws(RealtimeError) -> Role {
  guard let role = Role(rawValue: Int(value)) else {
    throw RealtimeError(.invalidArgument, "\(name) \(value) is not an RT_ROLE_* value (0 to 4)")
  }
  return role
}

/// An RT_ACCESS_* value, or an error.
private func action(_ value: Int32) throws(RealtimeError) -> AccessAction {
  guard let action = AccessAction(rawValue: Int(value)) else {
    throw RealtimeError(.invalidArgument, "action \(value) is not an RT_ACCESS_* value (0 to 5)")
  }
  return action
}

@c @implementation public func rt_access_rules_init(_ rules: UnsafeMutablePointer<rt_access_rules>?) -> rt_status {
  guard let rules else { return fail(nil, .invalidArgument, "rules is NULL") }
  rules.pointee = rt_access_rules()
  rules.pointee.struct_size = MemoryLayout<rt_access_rules>.size
  let defaults = AccessRules()
  withUnsafeMutableBytes(of: &rules.pointee.min_role) { raw in
    for action in AccessAction.allCases {
      raw.storeBytes(of: Int32(defaults[action].rawValue), toByteOffset: action.rawValue * 4, as: Int32.self)
    }
  }
  return RT_OK
}

@c @implementation public func rt_access_scope_namespace(
  _ coreHandle: OpaquePointer?, _ ns: UnsafePointer<CChar>?, _ rules: UnsafePointer<rt_access_rules>?
) -> rt_status {
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let namespace = try text(ns, "ns")
    var scoped: AccessRules?
    if let rules {
      try checkStructSize(rules, name: "rt_access_rules")
      var made = AccessRules()
      let values = withUnsafeBytes(of: rules.pointee.min_role) { raw in
        (0..<AccessAction.allCases.count).map { raw.load(fromByteOffset: $0 * 4, as: Int32.self) }
      }
      for action in AccessAction.allCases {
        made[action] = try role(values[action.rawValue], "min_role[\(action.rawValue)]")
      }
      scoped = made
    }
    try core(coreHandle).access.scope(namespace: namespace, scoped)
  }
}

@c @implementation public func rt_access_set_role(
  _ coreHandle: OpaquePointer?, _ workspace: UnsafePointer<CChar>?, _ user: UnsafePointer<CChar>?, _ value: Int32
) -> rt_status {
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    try core(coreHandle).access.setRole(
      try role(value, "role"), user: try text(user, "user"), in: try text(workspace, "workspace"))
  }
}

@c @implementation public func rt_access_role(
  _ coreHandle: OpaquePointer?, _ workspace: UnsafePointer<CChar>?, _ user: UnsafePointer<CChar>?,
  _ out: UnsafeMutablePointer<Int32>?
) -> rt_status {
  out?.pointee = RT_ROLE_NONE
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let out else { return fail(coreHandle, .invalidArgument, "role is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let found = try core(coreHandle).access.role(of: try text(user, "user"), in: try text(workspace, "workspace"))
    out.pointee = Int32(found.rawValue)
  }
}

@c @implementation public func rt_access_set_rule(
  _ coreHandle: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ actionValue: Int32, _ minRole: Int32
) -> rt_status {
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    var minimum: Role?
    if minRole != RT_ACCESS_INHERIT { minimum = try role(minRole, "min_role") }
    try core(coreHandle).access.setRule(for: try text(name, "name"), try action(actionValue), minimum: minimum)
  }
}

@c @implementation public func rt_access_check(
  _ coreHandle: OpaquePointer?, _ user: UnsafePointer<CChar>?, _ name: UnsafePointer<CChar>?, _ actionValue: Int32
) -> rt_status {
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    let who: String? = user == nil ? nil : try text(user, "user")
    let target = try text(name, "name")
    guard core(coreHandle).access.allows(who, try action(actionValue), on: target) else {
      throw RealtimeError(.forbidden, "not allowed")
    }
  }
}

@c @implementation public func rt_access_role_from_name(
  _ name: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<Int32>?
) -> rt_status {
  out?.pointee = RT_ROLE_NONE
  guard let out else { return fail(nil, .invalidArgument, "role is NULL") }
  return status(nil) { () throws(RealtimeError) in
    let given = try text(name, "name")
    guard let found = Role(name: given) else {
      throw RealtimeError(
        .invalidArgument, "'\(given.prefix(32))' names no role (none, guest, member, admin, owner; staff, manager, ceo)"
      )
    }
    out.pointee = Int32(found.rawValue)
  }
}

@c @implementation public func rt_access_role_name(_ value: Int32) -> UnsafePointer<CChar>! {
  switch Role(rawValue: Int(value)) {
  case .none?: cString("none")
  case .guest?: cString("guest")
  case .member?: cString("member")
  case .admin?: cString("admin")
  case .owner?: cString("owner")
  case nil: cString("")
  }
}
