import Foundation
import Testing

@testable import RealtimeCore

/// A fresh directory under the system temp dir, removed when the value is dropped.
final class TempDir: Sendable {
  let path: String

  init() throws {
    let template = FileManager.default.temporaryDirectory.appendingPathComponent("rt-test-XXXXXX").path
    var bytes = Array(template.utf8CString)
    guard let made = mkdtemp(&bytes) else { throw CocoaError(.fileWriteUnknown) }
    path = String(cString: made)
  }

  func file(_ name: String) -> String { path + "/" + name }

  deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Counts down on any thread; `wait()` blocks until it reaches zero.
final class Countdown: Sendable {
  private let lock = NSLock()
  nonisolated(unsafe) private var remaining: Int
  private let done = DispatchSemaphore(value: 0)

  init(_ count: Int) { remaining = count }

  func tick() {
    let left = lock.withLock {
      remaining -= 1
      return remaining
    }
    if left == 0 { done.signal() }
  }

  func wait() { done.wait() }
}

/// Collects values from any thread.
final class Collector<Value: Sendable>: Sendable {
  private let lock = NSLock()
  nonisolated(unsafe) private var values: [Value] = []
  func add(_ value: Value) { lock.withLock { values.append(value) } }
  var all: [Value] { lock.withLock { values } }
}

/// Appends and blocks until acknowledged, returning the result.
func appendAndWait(_ core: Core, _ stream: String, _ payload: [UInt8]) throws -> Result<UInt64, RealtimeError> {
  let result = Collector<Result<UInt64, RealtimeError>>()
  let done = Countdown(1)
  try core.append(stream: stream, payload: payload) { r in
    result.add(r)
    done.tick()
  }
  done.wait()
  return result.all[0]
}

/// The bytes of a file, to prove a refused file was not modified.
func contents(_ path: String) -> [UInt8]? {
  FileManager.default.contents(atPath: path).map { Array($0) }
}

/// The code of the `RealtimeError` `body` throws (`.internal` for any other error), nil when it
/// returns: for expectations on which refusal a call gives.
func code(_ body: () throws -> Void) -> ErrorCode? {
  do {
    try body()
    return nil
  } catch let error as RealtimeError {
    return error.code
  } catch {
    return .internal
  }
}
