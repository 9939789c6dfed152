// The load run: every client, timer and phase on one libuv loop, driven by its callbacks.
import CUVBench
import Foundation
import Histogram

final class Client {
  enum State { case idle, connecting, handshaking, open, closed }

  let index: Int
  var state = State.idle
  var handle: UnsafeMutablePointer<uv_tcp_t>?
  var key = ""
  var buffer: [UInt8] = []
  var startedAt: UInt64 = 0
  var pingSentAt: UInt64 = 0
  var pingPayload: [UInt8] = []
  var awaitingPong = false
  var pingsDone = 0
  var pingFinished = false

  init(index: Int) { self.index = index }
}

final class Runner {
  enum Phase: String { case connecting, settling, pinging, holding, closing, done }

  let command: RTLoad
  let target: Target
  let loop: UnsafeMutablePointer<uv_loop_t>
  let readBuffer = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 16)
  var clients: [Client] = []
  var phase = Phase.connecting
  var nextToStart = 0
  var inFlight = 0
  var established = 0
  var failed = 0
  var failures: [String: Int] = [:]
  var droppedAfterOpen = 0
  var serverPings = 0
  var serverCloses = 0
  var serverDataFrames = 0
  var protocolErrors = 0
  var pongMismatches = 0
  var writeErrors = 0
  var pingClientsLeft = 0
  var pingsTotal = 0
  var timedOut = false
  var timedOutIn: Phase?
  var handshakes = latencyHistogram()
  var roundTrips = latencyHistogram()
  var startNs: UInt64 = 0
  var connectedNs: UInt64 = 0
  var pingStartNs: UInt64 = 0
  var pingEndNs: UInt64 = 0
  var endNs: UInt64 = 0
  var rssBefore: Int?
  var rssAfter: Int?
  var rssAtEnd: Int?
  var clientRSSAfter: Int?
  let deadline = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
  let phaseTimer = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
  var timersClosed = false

  init(command: RTLoad, target: Target) {
    self.command = command
    self.target = target
    loop = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
    uv_loop_init(loop)
    loop.pointee.data = nil
  }

  static func from(_ loop: UnsafeMutablePointer<uv_loop_t>?) -> Runner {
    Unmanaged<Runner>.fromOpaque(loop!.pointee.data!).takeUnretainedValue()
  }

  static func client(_ handle: UnsafeMutableRawPointer?) -> Client {
    let h = handle!.assumingMemoryBound(to: uv_handle_t.self)
    return Unmanaged<Client>.fromOpaque(h.pointee.data!).takeUnretainedValue()
  }

  func log(_ s: String) { writeStderr("rt-load: \(s)\n") }

  // MARK: run

  func run() {
    loop.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    clients = (0..<command.connections).map { Client(index: $0) }
    if let pid = command.serverPid { rssBefore = readRSSKiB(pid: pid) }
    uv_timer_init(loop, deadline)
    uv_timer_init(loop, phaseTimer)
    uv_timer_start(deadline, { t in Runner.from(t!.pointee.loop).timeout() }, command.timeoutS * 1000, 0)
    startNs = uv_hrtime()
    launchMore()
    uv_run(loop, UV_RUN_DEFAULT)
    endNs = uv_hrtime()
    if endNs == 0 { endNs = uv_hrtime() }
    uv_loop_close(loop)
  }

  func timeout() {
    timedOut = true
    timedOutIn = phase
    log("timeout after \(command.timeoutS) s in phase \(phase.rawValue); reporting what there is")
    if phase == .connecting { connectedNs = uv_hrtime() }
    if phase == .pinging { pingEndNs = uv_hrtime() }
    if rssAfter == nil, let pid = command.serverPid { rssAfter = readRSSKiB(pid: pid) }
    closeAll()
  }

  // MARK: connecting

  func launchMore() {
    while phase == .connecting && inFlight < command.concurrency && nextToStart < clients.count {
      let client = clients[nextToStart]
      nextToStart += 1
      inFlight += 1
      start(client)
    }
  }

  func start(_ client: Client) {
    let handle = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
    uv_tcp_init(loop, handle)
    handle.pointee.data = Unmanaged.passUnretained(client).toOpaque()
    client.handle = handle
    client.state = .connecting
    client.startedAt = uv_hrtime()
    if command.sourceAddresses > 1 {
      var source = sockaddr_in()
      uv_ip4_addr("127.0.0.\(1 + client.index % command.sourceAddresses)", 0, &source)
      let rc = withUnsafePointer(to: &source) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_bind(handle, $0, 0) }
      }
      if rc < 0 { return fail(client, "bind: \(errName(rc))") }
    }
    var address = sockaddr_in()
    uv_ip4_addr("127.0.0.1", target.port, &address)
    let request = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
    let rc = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        uv_tcp_connect(request, handle, $0) { request, status in
          let stream = request!.pointee.handle!
          let runner = Runner.from(stream.pointee.loop)
          request!.deallocate()
          let client = Runner.client(UnsafeMutableRawPointer(stream))
          runner.connected(client, status: status)
        }
      }
    }
    if rc < 0 {
      request.deallocate()
      fail(client, "connect: \(errName(rc))")
    }
  }

  func connected(_ client: Client, status: Int32) {
    guard client.state == .connecting else { return }  // closed meanwhile (timeout): ECANCELED
    if status < 0 { return fail(client, "connect: \(errName(status))") }
    guard let handle = client.handle else { return }
    uv_tcp_nodelay(handle, 1)
    client.state = .handshaking
    client.key = base64(randomBytes(16))
    let request =
      "GET \(target.path) HTTP/1.1\r\nHost: \(target.host):\(target.port)\r\nUpgrade: websocket\r\n"
      + "Connection: Upgrade\r\nSec-WebSocket-Key: \(client.key)\r\nSec-WebSocket-Version: 13\r\n\r\n"
    let stream = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self)
    let rc = uv_read_start(
      stream,
      { handle, _, buf in
        let runner = Runner.from(handle!.pointee.loop)
        buf!.pointee = uv_buf_init(runner.readBuffer.assumingMemoryBound(to: CChar.self), 65536)
      },
      { stream, nread, _ in
        let runner = Runner.from(stream!.pointee.loop)
        let client = Runner.client(UnsafeMutableRawPointer(stream))
        runner.received(client, nread: nread)
      })
    if rc < 0 { return fail(client, "read_start: \(errName(rc))") }
    send(client, Array(request.utf8))
  }

  func received(_ client: Client, nread: Int) {
    if nread == 0 { return }
    if nread < 0 {
      let reason = nread == Int(UV_EOF.rawValue) ? "eof" : errName(Int32(nread))
      switch client.state {
      case .connecting, .handshaking: fail(client, "\(reason) during handshake")
      case .open:
        droppedAfterOpen += 1
        if droppedAfterOpen <= 5 {
          log("client \(client.index): server ended the connection (\(reason)) in phase \(phase.rawValue)")
        }
        close(client)
        pingClientFinished(client)
      case .idle, .closed: break
      }
      return
    }
    client.buffer.append(contentsOf: UnsafeRawBufferPointer(start: readBuffer, count: nread))
    if client.state == .handshaking { handshakeBytes(client) }
    if client.state == .open { frames(client) }
  }

  func handshakeBytes(_ client: Client) {
    let crlf2: [UInt8] = [13, 10, 13, 10]
    guard let end = findSubsequence(client.buffer, crlf2) else {
      if client.buffer.count > 16384 { fail(client, "response head too long") }
      return
    }
    let head = String(decoding: client.buffer[..<end], as: UTF8.self)
    client.buffer.removeFirst(end + 4)
    let lines = head.components(separatedBy: "\r\n")
    let statusParts = lines[0].split(separator: " ", maxSplits: 2)
    guard statusParts.count >= 2, statusParts[0] == "HTTP/1.1" else { return fail(client, "bad status line") }
    guard statusParts[1] == "101" else {
      let reason = statusParts.count > 2 ? " \(statusParts[2])" : ""
      return fail(client, "status \(statusParts[1])\(reason)")
    }
    var accept: String?
    for line in lines.dropFirst() {
      guard let colon = line.firstIndex(of: ":") else { continue }
      if line[..<colon].lowercased() == "sec-websocket-accept" {
        accept = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
      }
    }
    guard accept == acceptValue(forKey: client.key) else { return fail(client, "bad Sec-WebSocket-Accept") }
    let now = uv_hrtime()
    handshakes.record(now - client.startedAt)
    client.state = .open
    established += 1
    inFlight -= 1
    handshakeOver()
  }

  func fail(_ client: Client, _ reason: String) {
    let wasHandshaking = client.state == .connecting || client.state == .handshaking
    close(client)
    guard wasHandshaking else { return }
    failed += 1
    failures[reason, default: 0] += 1
    if failed <= 5 { log("client \(client.index): \(reason)") }
    inFlight -= 1
    handshakeOver()
  }

  func handshakeOver() {
    guard phase == .connecting else { return }
    launchMore()
    guard established + failed == clients.count else { return }
    connectedNs = uv_hrtime()
    log(
      "established \(established), failed \(failed) in \(fmt(Double(connectedNs - startNs) / 1e6)) ms"
    )
    phase = .settling
    let settle = command.serverPid == nil ? 0 : command.settleMs
    uv_timer_start(phaseTimer, { t in Runner.from(t!.pointee.loop).settled() }, settle, 0)
  }

  func settled() {
    if let pid = command.serverPid { rssAfter = readRSSKiB(pid: pid) }
    clientRSSAfter = readRSSKiB(pid: getpid())
    if command.scenario == .ping && command.pings > 0 {
      startPings()
    } else {
      startHold()
    }
  }

  // MARK: pinging

  func startPings() {
    phase = .pinging
    pingStartNs = uv_hrtime()
    let open = clients.filter { $0.state == .open }
    pingClientsLeft = open.count
    if open.isEmpty { return finishPings() }
    for client in open { sendPing(client) }
  }

  func sendPing(_ client: Client) {
    var payload = [UInt8](repeating: 0, count: command.pingPayload)
    var seq = UInt64(client.index) << 32 | UInt64(client.pingsDone)
    for i in 0..<min(8, payload.count) {
      payload[i] = UInt8(seq & 0xFF)
      seq >>= 8
    }
    client.pingPayload = payload
    client.awaitingPong = true
    client.pingSentAt = uv_hrtime()
    send(client, maskedFrame(opcode: 0x9, payload: payload))
  }

  func pong(_ client: Client, _ payload: [UInt8]) {
    guard client.awaitingPong else { return }  // unsolicited pong: allowed, ignored
    if payload != client.pingPayload { pongMismatches += 1 }
    roundTrips.record(uv_hrtime() - client.pingSentAt)
    client.awaitingPong = false
    client.pingsDone += 1
    pingsTotal += 1
    if client.pingsDone < command.pings {
      sendPing(client)
    } else {
      pingClientFinished(client)
    }
  }

  func pingClientFinished(_ client: Client) {
    guard phase == .pinging, !client.pingFinished else { return }
    client.pingFinished = true
    client.awaitingPong = false
    pingClientsLeft -= 1
    if pingClientsLeft == 0 { finishPings() }
  }

  func finishPings() {
    pingEndNs = uv_hrtime()
    startHold()
  }

  // MARK: frames

  func frames(_ client: Client) {
    while client.state == .open {
      let frame: ServerFrame?
      do {
        frame = try takeServerFrame(&client.buffer)
      } catch {
        protocolErrors += 1
        log("client \(client.index): protocol error from server: \(error)")
        close(client)
        pingClientFinished(client)
        return
      }
      guard let frame else { return }
      switch frame.opcode {
      case 0xA: pong(client, frame.payload)
      case 0x9:
        serverPings += 1
        send(client, maskedFrame(opcode: 0xA, payload: frame.payload))
      case 0x8:
        serverCloses += 1
        if serverCloses <= 5 {
          let code = frame.payload.count >= 2 ? Int(frame.payload[0]) << 8 | Int(frame.payload[1]) : 0
          let reason = String(decoding: frame.payload.dropFirst(2), as: UTF8.self)
          log("client \(client.index): server sent close \(code) \(reason) in phase \(phase.rawValue)")
        }
        if phase != .closing {
          droppedAfterOpen += 1
          send(client, maskedFrame(opcode: 0x8, payload: Array(frame.payload.prefix(2))))
        }
        close(client)
        pingClientFinished(client)
      default: serverDataFrames += 1
      }
    }
  }

  // MARK: hold and close

  func startHold() {
    phase = .holding
    uv_timer_start(
      phaseTimer, { t in Runner.from(t!.pointee.loop).closeAll() }, command.holdMs, 0)
  }

  func closeAll() {
    if phase == .holding, let pid = command.serverPid { rssAtEnd = readRSSKiB(pid: pid) }
    phase = .closing
    let closeFrame: [UInt8] = [0x03, 0xE8]  // 1000 normal closure
    for client in clients where client.state != .idle && client.state != .closed {
      if client.state == .open { send(client, maskedFrame(opcode: 0x8, payload: closeFrame)) }
      close(client)
    }
    if !timersClosed {
      timersClosed = true
      uv_close(UnsafeMutableRawPointer(deadline).assumingMemoryBound(to: uv_handle_t.self), nil)
      uv_close(UnsafeMutableRawPointer(phaseTimer).assumingMemoryBound(to: uv_handle_t.self), nil)
    }
    phase = .done
  }

  func close(_ client: Client) {
    guard client.state != .closed, let handle = client.handle else {
      client.state = .closed
      return
    }
    client.state = .closed
    client.handle = nil
    uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { h in
      h!.deallocate()
    }
  }

  /// Writes `bytes` (copied next to the request, freed in the callback).
  func send(_ client: Client, _ bytes: [UInt8]) {
    guard let handle = client.handle else { return }
    let header = (MemoryLayout<uv_write_t>.size + 15) & ~15
    let block = UnsafeMutableRawPointer.allocate(byteCount: header + bytes.count, alignment: 16)
    let data = block + header
    bytes.withUnsafeBytes { data.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    let request = block.assumingMemoryBound(to: uv_write_t.self)
    var buf = uv_buf_init(data.assumingMemoryBound(to: CChar.self), UInt32(bytes.count))
    let rc = uv_write(request, UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self), &buf, 1) {
      request, status in
      if status < 0 && status != Int32(UV_ECANCELED.rawValue) {
        Runner.from(request!.pointee.handle!.pointee.loop).writeErrors += 1
      }
      UnsafeMutableRawPointer(request!).deallocate()
    }
    if rc < 0 {
      block.deallocate()
      writeErrors += 1
    }
  }

  // MARK: report

  func report() -> String {
    let connectSeconds = Double((connectedNs == 0 ? endNs : connectedNs) - startNs) / 1e9
    var fields: [(String, String)] = [
      ("scenario", "\"\(command.scenario.rawValue)\""),
      ("url", "\"\(command.url)\""),
      ("connections_requested", "\(command.connections)"),
      ("connections_established", "\(established)"),
      ("connections_failed", "\(failed)"),
      ("connections_not_attempted", "\(command.connections - nextToStart)"),
      ("concurrency", "\(command.concurrency)"),
      ("source_addresses", "\(command.sourceAddresses)"),
      ("connect_seconds", fmt(connectSeconds, 3)),
      ("handshakes_per_second", fmt(connectSeconds > 0 ? Double(established) / connectSeconds : 0, 0)),
      ("handshake_us", percentiles(handshakes)),
    ]
    if !failures.isEmpty {
      let list = failures.sorted { $0.value > $1.value }.map { "\"\(jsonEscape($0.key))\":\($0.value)" }
      fields.append(("failures", "{" + list.joined(separator: ",") + "}"))
    }
    if command.scenario == .ping {
      let seconds = pingEndNs > pingStartNs ? Double(pingEndNs - pingStartNs) / 1e9 : 0
      fields += [
        ("pings_per_client", "\(command.pings)"),
        ("ping_payload_bytes", "\(command.pingPayload)"),
        ("pings_completed", "\(pingsTotal)"),
        ("ping_seconds", fmt(seconds, 3)),
        ("pings_per_second", fmt(seconds > 0 ? Double(pingsTotal) / seconds : 0, 0)),
        ("round_trip_us", percentiles(roundTrips)),
        ("pong_payload_mismatches", "\(pongMismatches)"),
      ]
    }
    if command.serverPid != nil {
      fields.append(("server_pid", "\(command.serverPid!)"))
      fields.append(("settle_ms", "\(command.settleMs)"))
      fields.append(("rss_before_kib", rssBefore.map { "\($0)" } ?? "null"))
      fields.append(("rss_after_kib", rssAfter.map { "\($0)" } ?? "null"))
      if let before = rssBefore, let after = rssAfter, established > 0 {
        fields.append(("rss_per_connection_bytes", fmt(Double(after - before) * 1024 / Double(established), 0)))
      } else {
        fields.append(("rss_per_connection_bytes", "null"))
      }
      if let end = rssAtEnd { fields.append(("rss_end_of_hold_kib", "\(end)")) }
    }
    fields += [
      ("hold_ms", "\(command.holdMs)"),
      ("dropped_by_server_after_open", "\(droppedAfterOpen)"),
      ("server_pings_answered", "\(serverPings)"),
      ("server_close_frames", "\(serverCloses)"),
      ("server_data_frames", "\(serverDataFrames)"),
      ("protocol_errors", "\(protocolErrors)"),
      ("write_errors", "\(writeErrors)"),
      ("client_rss_kib", clientRSSAfter.map { "\($0)" } ?? "null"),
      ("timed_out", timedOut ? "true" : "false"),
      ("timed_out_in_phase", timedOutIn.map { "\"\($0.rawValue)\"" } ?? "null"),
      ("elapsed_seconds", fmt(Double(endNs - startNs) / 1e9, 3)),
    ]
    return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
  }

  func percentiles(_ h: Histogram<UInt64>) -> String {
    guard h.totalCount > 0 else { return "null" }
    func us(_ ns: UInt64) -> String { fmt(Double(ns) / 1000, 1) }
    return "{\"count\":\(h.totalCount),\"p50\":\(us(h.valueAtPercentile(50))),\"p90\":\(us(h.valueAtPercentile(90))),"
      + "\"p99\":\(us(h.valueAtPercentile(99))),\"max\":\(us(h.maxRecorded))}"
  }
}

func fmt(_ v: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", v) }

func errName(_ code: Int32) -> String { String(cString: uv_err_name(code)) }

func jsonEscape(_ s: String) -> String {
  s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
}

func findSubsequence(_ haystack: [UInt8], _ needle: [UInt8]) -> Int? {
  guard haystack.count >= needle.count else { return nil }
  for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
    if Array(haystack[i..<(i + needle.count)]) == needle { return i }
  }
  return nil
}
