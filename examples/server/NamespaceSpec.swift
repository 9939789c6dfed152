import ArgumentParser
import RealtimeCore

/// A `--namespace` value: `NAME=OPTION,OPTION,...` (NAME may be empty: the default namespace).
/// Options: `memory` or `persistent`, `history=N`, `age-ms=N`, `publish=clients|subscribers|server`,
/// `no-client-subscribe`, `presence`, `idempotency-ms=N`, `slow=disconnect|drop-oldest|coalesce`,
/// `scoped` (workspace-scoped: channels `NAME:WORKSPACE/...`, checked against memberships with
/// the default rules).
/// `e2e` (end-to-end: clients publish sealed binary data, routed and stored opaque).
struct NamespaceSpec: ExpressibleByArgument {
  let name: String
  let options: NamespaceOptions
  /// Whether the namespace is workspace-scoped (`Access.scope` with the default rules).
  var scoped = false

  init?(argument: String) {
    guard let equals = argument.firstIndex(of: "=") else { return nil }
    name = String(argument[..<equals])
    var options = NamespaceOptions()
    for option in argument[argument.index(after: equals)...].split(separator: ",") {
      let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
      switch (parts.first ?? "", parts.count == 2 ? parts[1] : nil) {
      case ("memory", nil): options.persistent = false
      case ("persistent", nil): options.persistent = true
      case ("no-client-subscribe", nil): options.clientSubscribe = false
      case ("presence", nil): options.presence = true
      case ("scoped", nil): scoped = true
      case ("e2e", nil): options.endToEnd = true
      case ("history", let value?):
        guard let size = Int(value) else { return nil }
        options.historySize = size
      case ("age-ms", let value?):
        guard let age = UInt64(value) else { return nil }
        options.historyAgeMs = age
      case ("idempotency-ms", let value?):
        guard let window = UInt64(value) else { return nil }
        options.idempotencyWindowMs = window
      case ("publish", "clients"): options.publish = .clients
      case ("publish", "subscribers"): options.publish = .subscribers
      case ("publish", "server"): options.publish = .server
      case ("slow", "disconnect"): options.slowConsumer = .disconnect
      case ("slow", "drop-oldest"): options.slowConsumer = .dropOldest
      case ("slow", "coalesce"): options.slowConsumer = .coalesce
      default: return nil
      }
    }
    self.options = options
  }

  static var defaultValueDescription: String { "NAME=memory|persistent,history=N,age-ms=N,publish=..." }
}
