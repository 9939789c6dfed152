// rt-load: a WebSocket load generator on one libuv loop (no threads). It opens N client
// connections to a ws:// URL on 127.0.0.1 with at most C handshakes in flight (each upgrade
// followed by the protocol's connect message and its reply, unless --no-connect-message),
// optionally makes every client send M WebSocket pings or M JSON ping messages one at a time, or
// subscribes every client to a channel and has one more client publish M messages to it
// (fan-out, publish-to-deliver latency), holds the connections, closes them, and prints one JSON
// object with the figures. See Benchmarks/README.md.
import ArgumentParser
import CUVBench
import Foundation
import Histogram

enum Scenario: String, ExpressibleByArgument, CaseIterable {
  case connect, ping, echo, subscribe
}

/// The application protocol spoken over the WebSocket: RealtimeCore's JSON messages, or NATS
/// core's text protocol (CONNECT/SUB/PUB/MSG/PING/PONG), for nats-server's websocket listener.
enum WireProtocol: String, ExpressibleByArgument, CaseIterable {
  case rt, nats
}

@main
struct RTLoad: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rt-load",
    abstract:
      "WebSocket load generator (one libuv loop): connection count, handshake rate, ping and echo round trips, "
      + "channel fan-out.")

  @Option(help: "ws://127.0.0.1:PORT/PATH (only 127.0.0.1 is allowed as the destination).")
  var url: String

  @Option(help: "Client connections to open.")
  var connections = 100

  @Option(help: "Most handshakes in flight at once.")
  var concurrency = 256

  @Option(
    help: ArgumentHelp(
      "connect: open and hold; ping: then every client sends --pings WebSocket pings, one at a time; "
        + "echo: then every client sends --messages JSON ping messages, one at a time; "
        + "subscribe: every client subscribes to --channel, then one more client publishes --messages to it.",
      discussion:
        "echo waits for one text or binary message in reply to each (a pong or an echo). subscribe opens "
        + "--connections subscribers plus one publisher and measures publish-to-deliver latency."))
  var scenario: Scenario = .connect

  @Flag(
    inversion: .prefixedNo,
    help: ArgumentHelp(
      "After the upgrade, send {\"type\":\"connect\",\"v\":1} and count the client as connected only once a message comes back.",
      discussion:
        "A reply of type error or disconnect is a failed connection. Turn off for servers without the protocol."
    ))
  var connectMessage = true

  @Flag(
    help: ArgumentHelp(
      "Ask for batch frames in the connect message (\"batch\":true): the server may pack a turn's messages into one frame.",
      discussion: "Text frames are then a message object or an array of them; both are read either way."))
  var batch = false

  @Flag(
    help: ArgumentHelp(
      "Subscribers speak the protocol's binary encoding (binary frames) instead of JSON; the publisher stays JSON.",
      discussion: "Scenario subscribe with --protocol rt: connect, subscribe and every delivery are binary messages."))
  var binary = false

  @Option(
    help: ArgumentHelp(
      "rt: RealtimeCore's JSON protocol; nats: NATS core over WebSocket (scenarios connect and subscribe).",
      discussion:
        "nats: the connect message is CONNECT + PING (established at the PONG), subscribe is SUB + PING, every "
        + "PUB is followed by a PING whose PONG stands for its ack (unless --no-acks)."))
  var `protocol`: WireProtocol = .rt

  @Option(help: "Pings per client (scenario ping).")
  var pings = 100

  @Option(help: "Bytes of payload per ping (0-125).")
  var pingPayload = 8

  @Option(help: "Messages per client (scenario echo), or messages published (scenario subscribe).")
  var messages = 100

  @Option(
    help: ArgumentHelp(
      "Bytes of \"data\" per echo message (default 32), or of padding in each published message's data "
        + "(default 0) (0-65536)."))
  var payloadBytes: Int?

  @Option(help: "Channel to subscribe and publish to (scenario subscribe).")
  var channel = "bench"

  @Option(
    help: ArgumentHelp(
      "Target publish rate in messages per second (scenario subscribe); 0: as fast as --window allows.",
      discussion: "With a rate the publisher is open-loop: it does not wait for acks."))
  var rate: Double = 0

  @Option(
    help: ArgumentHelp(
      "Most publishes in flight at --rate 0: un-acked ones, or with --no-acks, ones whose write has not completed."
    ))
  var window = 64

  @Flag(
    inversion: .prefixedNo,
    help: ArgumentHelp(
      "Expect an ack (or error) for every publish (scenario subscribe).",
      discussion: "Turn off for a server that only broadcasts (reference/ws-broadcast.js without --ack)."))
  var acks = true

  @Option(
    help:
      "Milliseconds without a new delivery, once publishing is over, after which missing deliveries are given up on."
  )
  var drainMs: UInt64 = 2000

  @Option(help: "Server process id: its VmRSS is read before and after the connections are established.")
  var serverPid: Int32?

  @Option(help: "Milliseconds to wait after the last handshake before reading the server's RSS.")
  var settleMs: UInt64 = 1000

  @Option(help: "Milliseconds to hold the connections open (after the pings) before closing them.")
  var holdMs: UInt64 = 0

  @Option(help: "Seconds after which the run stops by itself and reports what it has.")
  var timeoutS: UInt64 = 120

  @Option(
    help: ArgumentHelp(
      "Loopback source addresses to spread the clients over (127.0.0.1 .. 127.0.0.N).",
      discussion: "A server that limits connections per IP sees each as a different client."))
  var sourceAddresses = 1

  func validate() throws {
    guard connections > 0, connections <= 1_000_000 else { throw ValidationError("--connections must be 1...1000000") }
    guard concurrency > 0 else { throw ValidationError("--concurrency must be positive") }
    guard pings >= 0, pings <= 10_000_000 else { throw ValidationError("--pings must be 0...10000000") }
    guard (0...125).contains(pingPayload) else { throw ValidationError("--ping-payload must be 0...125") }
    guard messages >= 0, messages <= 10_000_000 else { throw ValidationError("--messages must be 0...10000000") }
    guard (0...65536).contains(payloadBytes ?? 0) else { throw ValidationError("--payload-bytes must be 0...65536") }
    guard (1...255).contains(channel.utf8.count),
      channel.utf8.allSatisfy({ b in
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
          || "_-.:@/=+~!".utf8.contains(b)
      })
    else { throw ValidationError("--channel must be 1-255 bytes of letters, digits and _ - . : @ / = + ~ !") }
    guard rate >= 0, rate <= 10_000_000, rate.isFinite else { throw ValidationError("--rate must be 0...10000000") }
    guard window >= 1, window <= 1_000_000 else { throw ValidationError("--window must be 1...1000000") }
    guard drainMs <= 600_000 else { throw ValidationError("--drain-ms must be at most 600000") }
    if scenario == .subscribe && messages < 1 { throw ValidationError("--messages must be at least 1 for subscribe") }
    if `protocol` == .nats {
      guard scenario == .connect || scenario == .subscribe else {
        throw ValidationError("--protocol nats supports the connect and subscribe scenarios")
      }
      guard connectMessage else { throw ValidationError("--protocol nats needs the connect message (CONNECT)") }
    }
    guard timeoutS > 0, timeoutS <= 86_400 else { throw ValidationError("--timeout-s must be 1...86400") }
    guard (1...250).contains(sourceAddresses) else { throw ValidationError("--source-addresses must be 1...250") }
    _ = try Target(url)
  }

  func run() throws {
    let target = try Target(url)
    let (soft, hard) = raiseFileLimit()
    writeStderr(
      "rt-load: \(scenario.rawValue) \(connections) connections to \(url), concurrency \(concurrency), "
        + "connect message \(connectMessage ? "on" : "off"), RLIMIT_NOFILE \(soft) (hard \(hard))\n")
    if UInt64(connections) + 64 > soft {
      writeStderr("rt-load: warning: \(connections) sockets may exceed the fd limit \(soft)\n")
    }
    if scenario == .subscribe {
      let pace = rate > 0 ? "\(rate) msgs/s" : acks ? "window \(window) un-acked" : "window \(window) unwritten"
      writeStderr(
        "rt-load: subscribe: \(connections) subscribers + 1 publisher on channel \(channel), \(messages) messages, "
          + "\(pace), acks \(acks ? "on" : "off")\n")
    }
    let runner = Runner(command: self, target: target)
    runner.run()
    print(runner.report())
  }
}

/// The parsed URL: only an IPv4 literal 127.0.0.1 destination is accepted (workplace rule).
struct Target {
  var host: String
  var port: Int32
  var path: String

  init(_ url: String) throws {
    guard url.hasPrefix("ws://") else { throw ValidationError("--url must start with ws://") }
    let rest = url.dropFirst(5)
    let slash = rest.firstIndex(of: "/") ?? rest.endIndex
    let authority = rest[..<slash]
    path = slash == rest.endIndex ? "/" : String(rest[slash...])
    guard let colon = authority.lastIndex(of: ":") else { throw ValidationError("--url needs an explicit port") }
    host = String(authority[..<colon])
    guard let p = Int32(authority[authority.index(after: colon)...]), (1...65535).contains(p) else {
      throw ValidationError("--url has a bad port")
    }
    port = p
    guard host == "127.0.0.1" else {
      throw ValidationError("refusing host '\(host)': rt-load only sends traffic to 127.0.0.1")
    }
    guard !path.contains(" "), !path.contains("\r"), !path.contains("\n") else { throw ValidationError("bad path") }
  }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns (soft, hard) after.
func raiseFileLimit() -> (UInt64, UInt64) {
  var limit = rlimit()
  guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (0, 0) }
  if limit.rlim_cur < limit.rlim_max {
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
  }
  return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
}

/// VmRSS of a process in KiB, from /proc/PID/status.
func readRSSKiB(pid: Int32) -> Int? {
  guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
  for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
    return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
  }
  return nil
}

func latencyHistogram() -> Histogram<UInt64> {
  Histogram<UInt64>(
    lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three)
}

func writeStderr(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
