import ArgumentParser
import RealtimeCore

/// A `--rate-limit` value: `NAME=COUNT/PERIOD_MS[/BURST]` (burst defaults to COUNT) or
/// `NAME=off`.
struct RateLimitSpec: ExpressibleByArgument {
  let name: String
  let policy: RateLimitPolicy?

  init?(argument: String) {
    guard let equals = argument.firstIndex(of: "=") else { return nil }
    name = String(argument[..<equals])
    let value = argument[argument.index(after: equals)...]
    if value == "off" {
      policy = nil
      return
    }
    let numbers = value.split(separator: "/").map { UInt64($0) }
    guard (2...3).contains(numbers.count), let count = numbers[0], let period = numbers[1] else { return nil }
    let burst = numbers.count == 3 ? numbers[2] : count
    guard let burst else { return nil }
    policy = RateLimitPolicy(count: count, periodMs: period, burst: burst)
  }
}
