// The measuring harness shared by rt-bench and the ordo-one/benchmark suites: it opens cores,
// issues appends and waits for their acknowledgements, and times sync() round trips. It uses only
// RealtimeCore's public API.
import Dispatch
import Foundation
import Histogram
import RealtimeCore
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// CLOCK_MONOTONIC in nanoseconds (vDSO on Linux: ~20 ns, no syscall).
@inline(__always)
public func monotonicNanos() -> UInt64 {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

public struct BenchError: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}

/// A value behind a lock that escaping closures can share (Mutex itself cannot be captured).
public final class Locked<Value: Sendable>: @unchecked Sendable {
  private let mutex: Mutex<Value>
  public init(_ value: Value) { mutex = Mutex(value) }
  public func withLock<R>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
  public var value: Value { mutex.withLock { $0 } }
}

/// Counts acknowledgements; `wait()` returns once `expected` have arrived. Completions run on the
/// core's loop thread, the waiter is the benchmark thread.
public final class AckGate: @unchecked Sendable {
  private let remaining: Atomic<Int>
  private let failures = Atomic<Int>(0)
  private let firstError = Mutex<RealtimeError?>(nil)
  private let done = DispatchSemaphore(value: 0)

  public init(expecting count: Int) {
    precondition(count > 0)
    remaining = Atomic(count)
  }

  public func ack(_ result: Result<UInt64, RealtimeError>) {
    if case .failure(let error) = result {
      failures.add(1, ordering: .relaxed)
      firstError.withLock { if $0 == nil { $0 = error } }
    }
    if remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { done.signal() }
  }

  /// Blocks until every expected acknowledgement arrived; throws if any append failed.
  public func wait() throws {
    done.wait()
    if let error = firstError.withLock({ $0 }) {
      throw BenchError("\(failures.load(ordering: .relaxed)) appends failed; first: \(error)")
    }
  }
}

/// One measured append run.
public struct AppendRun: Sendable {
  public let mode: String
  public let appends: Int
  public let seconds: Double
  public var appendsPerSecond: Double { Double(appends) / seconds }
  public var microsPerAppend: Double { seconds * 1e6 / Double(appends) }
}

public enum StoreBench {
  public static let stream = "bench"
  public static let payload = [UInt8](repeating: 7, count: 64)

  /// A started core on `path` with durability `full`.
  public static func openCore(path: String, groupCommit: Bool) throws -> Core {
    let core = try Core(config: CoreConfig(databasePath: path, durability: .full, groupCommit: groupCommit))
    try core.start()
    return core
  }

  /// Issues `count` appends without waiting between them, split over `producers` threads, and
  /// returns when every one is acknowledged (durable). Timed from the first append to the last ack.
  public static func appendBurst(
    _ core: Core, count: Int, producers: Int, mode: String, payload: [UInt8] = payload
  ) throws -> AppendRun {
    let gate = AckGate(expecting: count)
    let producers = max(1, min(producers, count))
    let firstError = Locked<RealtimeError?>(nil)
    let group = DispatchGroup()
    let go = DispatchSemaphore(value: 0)
    var threads: [Thread] = []
    for p in 0..<producers {
      let share = count / producers + (p < count % producers ? 1 : 0)
      group.enter()
      let thread = Thread {
        defer { group.leave() }
        go.wait()
        do throws(RealtimeError) {
          for _ in 0..<share {
            try core.append(stream: stream, payload: payload) { gate.ack($0) }
          }
        } catch {
          firstError.withLock { if $0 == nil { $0 = error } }
        }
      }
      thread.name = "producer-\(p)"
      thread.start()
      threads.append(thread)
    }
    let start = monotonicNanos()
    for _ in 0..<producers { go.signal() }
    group.wait()
    if let error = firstError.value { throw error }
    try gate.wait()
    let end = monotonicNanos()
    return AppendRun(mode: mode, appends: count, seconds: Double(end - start) / 1e9)
  }

  /// Issues `count` appends one at a time from the calling thread: append, wait for its ack, next.
  public static func appendSequential(
    _ core: Core, count: Int, mode: String, payload: [UInt8] = payload
  ) throws -> AppendRun {
    let acked = DispatchSemaphore(value: 0)
    let firstError = Locked<RealtimeError?>(nil)
    let start = monotonicNanos()
    for _ in 0..<count {
      try core.append(stream: stream, payload: payload) { result in
        if case .failure(let error) = result { firstError.withLock { if $0 == nil { $0 = error } } }
        acked.signal()
      }
      acked.wait()
      if let error = firstError.value { throw error }
    }
    let end = monotonicNanos()
    return AppendRun(mode: mode, appends: count, seconds: Double(end - start) / 1e9)
  }
}

/// Percentiles of a latency histogram recorded in nanoseconds, reported in microseconds.
public struct LatencySummary: Sendable {
  public let name: String
  public let count: UInt64
  public let meanMicros: Double
  public let minMicros: Double
  public let p50Micros: Double
  public let p90Micros: Double
  public let p99Micros: Double
  public let p999Micros: Double
  public let maxMicros: Double

  public init(name: String, histogram h: Histogram<UInt64>) {
    func us(_ ns: UInt64) -> Double { Double(ns) / 1000 }
    self.name = name
    count = h.totalCount
    meanMicros = h.mean / 1000
    minMicros = us(h.min)
    p50Micros = us(h.valueAtPercentile(50))
    p90Micros = us(h.valueAtPercentile(90))
    p99Micros = us(h.valueAtPercentile(99))
    p999Micros = us(h.valueAtPercentile(99.9))
    maxMicros = us(h.max)
  }

  public var line: String {
    func f(_ v: Double) -> String { String(format: "%.1f", v) }
    return "\(name): n=\(count)  p50 \(f(p50Micros)) us  p90 \(f(p90Micros)) us  p99 \(f(p99Micros)) us  "
      + "p99.9 \(f(p999Micros)) us  max \(f(maxMicros)) us  (min \(f(minMicros)), mean \(f(meanMicros)))"
  }

  public var json: [String: Any] {
    [
      "count": count, "mean_us": meanMicros, "min_us": minMicros, "p50_us": p50Micros,
      "p90_us": p90Micros, "p99_us": p99Micros, "p99_9_us": p999Micros, "max_us": maxMicros,
    ]
  }
}

/// A histogram for round trips in nanoseconds: 1 ns to 10 s, 3 significant digits.
public func makeLatencyHistogram() -> Histogram<UInt64> {
  Histogram<UInt64>(
    lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)
}

public enum LoopBench {
  /// Times `count` calls of `core.sync()` after `warmup` untimed ones. On an idle core each is one
  /// cross-thread round trip: a mailbox post, a uv_async wake of the loop thread, a reply through
  /// a semaphore.
  public static func syncRoundTrips(_ core: Core, count: Int, warmup: Int) throws -> Histogram<UInt64> {
    for _ in 0..<warmup { try core.sync() }
    var histogram = makeLatencyHistogram()
    for _ in 0..<count {
      let t0 = monotonicNanos()
      try core.sync()
      let t1 = monotonicNanos()
      _ = histogram.record(t1 - t0)
    }
    return histogram
  }
}

/// How much of the CPUs this process could not have over an interval: time other processes kept
/// them busy, and steal time (the hypervisor running something else while a vCPU wanted to run).
/// A measured latency is only as good as the quiet around it: on a 2-vCPU VM either one turns a
/// 10 µs round trip into 100 µs. Linux only (/proc); elsewhere reports nil.
public struct CPUContention: Sendable {
  private typealias Sample = (total: UInt64, idle: UInt64, steal: UInt64, own: UInt64)
  private let start: Sample?

  public init() { start = CPUContention.sample() }

  /// Percent of all CPUs' time, since init, spent busy outside this process.
  public func othersBusyPercent() -> Double? {
    guard let start, let end = CPUContention.sample() else { return nil }
    let total = Double(end.total - start.total)
    guard total > 0 else { return nil }
    let busy = Double((end.total - end.idle) - (start.total - start.idle))
    let own = Double(end.own - start.own)
    let steal = Double(end.steal - start.steal)
    return max(0, (busy - steal - own) / total * 100)
  }

  /// Percent of all CPUs' time, since init, stolen by the hypervisor.
  public func stealPercent() -> Double? {
    guard let start, let end = CPUContention.sample() else { return nil }
    let total = Double(end.total - start.total)
    guard total > 0 else { return nil }
    return Double(end.steal - start.steal) / total * 100
  }

  /// (all jiffies, idle + iowait jiffies, steal jiffies, this process's utime + stime jiffies)
  private static func sample() -> Sample? {
    guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
      let cpuLine = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }),
      let mine = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
      let close = mine.lastIndex(of: ")")
    else { return nil }
    let fields = cpuLine.split(separator: " ").dropFirst().compactMap { UInt64($0) }
    guard fields.count >= 8 else { return nil }
    // user nice system idle iowait irq softirq steal (guest fields are already in user/nice)
    let total = fields.prefix(8).reduce(0, +)
    let idle = fields[3] + fields[4]
    // After the command name: state is field 3; utime and stime are fields 14 and 15.
    let rest = mine[mine.index(after: close)...].split(separator: " ")
    guard rest.count > 13, let utime = UInt64(rest[11]), let stime = UInt64(rest[12]) else { return nil }
    return (total, idle, fields[7], utime + stime)
  }
}
