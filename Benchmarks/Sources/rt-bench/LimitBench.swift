// The rate limiter: checks per second on one thread through RateLimiter's byte path (the one
// rt_limit_check takes: SipHash of the key, the lock, the table), beside a minimal C GCRA loop
// compiled in the same build (CGCRARef: an array indexed by key number, no hashing, no lock),
// and the table's bytes per key with a million live keys.
import CGCRARef
import Foundation
import RealtimeCore

extension RTBench {
  func runLimits() throws -> [String: Any] {
    let checks = limitChecks
    var json: [String: Any] = ["checks": checks]
    for keys in [1_000, 10_000, 1_000_000] {
      // 8-byte keys, the key's number, like a user or IP id, in one flat buffer so the loop
      // below costs what the C reference's does.
      let keyBuffer = UnsafeMutablePointer<UInt64>.allocate(capacity: keys)
      defer { keyBuffer.deallocate() }
      for n in 0..<keys { keyBuffer[n] = UInt64(n).littleEndian }
      let keyAt = { (n: Int) in UnsafeRawBufferPointer(start: keyBuffer + n, count: 8) }
      let limiter = RateLimiter(maxKeys: 2 * keys)
      // Generous enough that most checks pass, so both sides take the same branch.
      let policy = RateLimitPolicy(count: 1_000_000, periodMs: 1_000, burst: 1_000)
      try limiter.set("bench", policy)
      let name = Array("bench".utf8)
      var passed = 0
      let order = { (i: Int) -> Int in Int(truncatingIfNeeded: UInt64(i) &* 0x9E37_79B9_7F4A_7C15 % UInt64(keys)) }
      // Warm: every key in the table once.
      try name.withUnsafeBytes { n in
        for k in 0..<keys { _ = try limiter.check(n, key: keyAt(k), cost: 1) }
      }
      var swiftNs = UInt64.max
      var cNs = UInt64.max
      var cPassed: UInt64 = 0
      let tat = UnsafeMutablePointer<UInt64>.allocate(capacity: keys)
      defer { tat.deallocate() }
      for _ in 0..<limitRounds {
        let start = DispatchTime.now().uptimeNanoseconds
        passed = 0
        try name.withUnsafeBytes { n in
          for i in 0..<checks where try limiter.check(n, key: keyAt(order(i)), cost: 1).allowed { passed += 1 }
        }
        swiftNs = min(swiftNs, DispatchTime.now().uptimeNanoseconds - start)
        tat.initialize(repeating: 0, count: keys)
        cNs = min(cNs, gcra_ref_run(tat, keys, UInt64(checks), policy.intervalNs, policy.burst, &cPassed))
      }
      let swiftRate = Double(checks) / (Double(swiftNs) / 1e9)
      let cRate = Double(checks) / (Double(cNs) / 1e9)
      let table = limiter.tableSize
      let bytesPerKey = Double(table.slots * 16) / Double(keys)
      let figures = String(
        format: "%.1f M checks/s (%d of %d passed), C reference %.1f M/s (ratio %.2f)",
        swiftRate / 1e6, passed, checks, cRate / 1e6, swiftRate / cRate)
      var line = "limits: \(keys) keys: RateLimiter \(figures); table \(table.slots) slots x 16 B = "
      line += String(format: "%.1f B per key", bytesPerKey)
      if keys == 1_000 { line += "  (target >= 20 M/s: \(swiftRate >= 20e6 ? "met" : "NOT met"))" }
      print(line)
      json["keys_\(keys)"] = [
        "checks_per_second": swiftRate, "c_reference_checks_per_second": cRate, "ratio_to_c": swiftRate / cRate,
        "passed": passed, "c_passed": cPassed, "table_slots": table.slots, "bytes_per_key": bytesPerKey,
        "best_of_rounds": limitRounds,
      ]
    }
    // Memory: a million keys that all stay live (one unit a minute each), then the table's size.
    let keys = 1_000_000
    let limiter = RateLimiter(maxKeys: keys)
    try limiter.set("memory", RateLimitPolicy(count: 1, periodMs: 60_000, burst: 1))
    var refused = 0
    try Array("memory".utf8).withUnsafeBytes { name in
      for n in 0..<keys {
        let key = UInt64(n).littleEndian
        if try !withUnsafeBytes(of: key, { try limiter.check(name, key: $0, cost: 1) }).allowed { refused += 1 }
      }
    }
    let table = limiter.tableSize
    let bytesPerKey = Double(table.slots * 16) / Double(table.occupied)
    var line = "limits: memory: \(table.occupied) live keys in \(table.slots) slots x 16 B = "
    line += String(format: "%.1f B per key", bytesPerKey)
    line += "  (target <= 64 B/key: \(bytesPerKey <= 64 ? "met" : "NOT met"))"
    print(line)
    json["memory"] = [
      "live_keys": table.occupied, "table_slots": table.slots, "bytes_per_key": bytesPerKey, "refused": refused,
    ]
    return json
  }
}
