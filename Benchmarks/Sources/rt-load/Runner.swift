// The load run: every client, timer and phase on one libuv loop, driven by its callbacks.
import CUVBench
import Foundation
import Histogram

final class Client {
  /// `greeting`: upgraded, the connect message sent, its reply not yet in (not yet established).
  enum State { case idle, connecting, handshaking, greeting, open, closed }

  let index: Int
  var state = State.idle
  var handle: UnsafeMutablePointer<uv_tcp_t>?
  var key = ""
  var buffer: [UInt8] = []
  /// A data message arriving in fragments: its opcode (text or binary) and the bytes so far.
  var fragmentOpcode: UInt8?
  var fragments: [UInt8] = []
  var startedAt: UInt64 = 0
  var greetingSentAt: UInt64 = 0
  var sentAt: UInt64 = 0
  var pingPayload: [UInt8] = []
  var awaitingReply = false
  var roundTripsDone = 0
  var roundTripsFinished = false
  // Scenario subscribe.
  /// The one client that publishes (the last one); every other client subscribes.
  var isPublisher = false
  /// The subscribe message is sent and its reply not yet in.
  var subscribePending = false
  var subscribed = false
  var subscribeSentAt: UInt64 = 0
  /// The channel's newest offset in the `subscribed` reply: live messages follow it.
  var subscribedOffset: UInt64?
  /// The highest sequence number (offset, or n without offsets) delivered so far.
  var lastSeq: UInt64?
  /// Bit n set: message n was delivered (1...--messages), for duplicates.
  var seen: [UInt64] = []
  /// --protocol nats: the protocol stream's bytes not yet parsed (lines span frames).
  var natsBuffer: [UInt8] = []

  init(index: Int) { self.index = index }
}

final class Runner {
  enum Phase: String {
    case connecting, settling, pinging, echoing, subscribing, publishing, draining, holding, closing, done
  }

  let command: RTLoad
  /// The options read on every message, copied out of `command`: an ArgumentParser option's
  /// getter looks up generic metadata on each call, which took a fifth of rt-load's time.
  let scenario: Scenario
  let isNats: Bool
  /// --binary: subscribers use the binary encoding.
  let binarySubscribers: Bool
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
  var roundTripClientsLeft = 0
  var pingsTotal = 0
  var pingsFailed = 0
  var pingFailures: [String: Int] = [:]
  var timedOut = false
  var timedOutIn: Phase?
  var handshakes = latencyHistogram()
  var connectReplies = latencyHistogram()
  var roundTrips = latencyHistogram()
  /// The "data" of every echo-scenario message: --payload-bytes times "x".
  let echoData: [UInt8]
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
  /// Scenario subscribe: the publisher's pacing tick (with --rate) and the drain/stall check.
  let publishTimer = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
  let drainTimer = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
  var timersClosed = false
  /// Scenario subscribe: the fan-out's counters and histograms.
  let fan: FanoutState
  /// When the read being handled came in (uv_hrtime): the arrival time of its messages.
  var readNs: UInt64 = 0

  init(command: RTLoad, target: Target) {
    self.command = command
    self.target = target
    scenario = command.scenario
    isNats = command.protocol == .nats
    binarySubscribers = command.binary && command.protocol == .rt && command.scenario == .subscribe
    echoData = [UInt8](repeating: UInt8(ascii: "x"), count: command.payloadBytes ?? 32)
    fan = FanoutState(command: command)
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

  /// Round trips each client makes after all are connected: WebSocket pings, echo messages, none.
  var roundTripsPerClient: Int {
    switch command.scenario {
    case .connect, .subscribe: 0
    case .ping: command.pings
    case .echo: command.messages
    }
  }

  var inRoundTripPhase: Bool { phase == .pinging || phase == .echoing }

  // MARK: run

  func run() {
    loop.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    let publishers = command.scenario == .subscribe ? 1 : 0
    clients = (0..<(command.connections + publishers)).map { Client(index: $0) }
    if publishers == 1 {
      clients[clients.count - 1].isPublisher = true
      fan.publisher = clients[clients.count - 1]
    }
    if let pid = command.serverPid { rssBefore = readRSSKiB(pid: pid) }
    uv_timer_init(loop, deadline)
    uv_timer_init(loop, phaseTimer)
    uv_timer_init(loop, publishTimer)
    uv_timer_init(loop, drainTimer)
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
    if inRoundTripPhase { pingEndNs = uv_hrtime() }
    fanoutTimedOut()
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
    readNs = uv_hrtime()
    if nread < 0 {
      let reason = nread == Int(UV_EOF.rawValue) ? "eof" : errName(Int32(nread))
      switch client.state {
      case .connecting, .handshaking: fail(client, "\(reason) during handshake")
      case .greeting: fail(client, "\(reason) before the connect reply")
      case .open:
        droppedAfterOpen += 1
        if droppedAfterOpen <= 5 {
          log("client \(client.index): server ended the connection (\(reason)) in phase \(phase.rawValue)")
        }
        close(client)
        roundTripClientFinished(client)
        fanoutClientLost(client)
      case .idle, .closed: break
      }
      return
    }
    let bytes = UnsafeBufferPointer(start: readBuffer.assumingMemoryBound(to: UInt8.self), count: nread)
    if client.state == .handshaking {
      client.buffer.append(contentsOf: bytes)
      handshakeBytes(client)
      if client.state == .greeting || client.state == .open { bufferedFrames(client) }
    } else if client.state == .greeting || client.state == .open {
      if client.buffer.isEmpty {
        // The common case: whole frames straight from the read buffer, only a partial one kept.
        let consumed = frames(client, bytes)
        if (client.state == .greeting || client.state == .open) && consumed < nread {
          client.buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[consumed...]))
        }
      } else {
        client.buffer.append(contentsOf: bytes)
        bufferedFrames(client)
      }
    }
    if client.isPublisher && fan.needsPump {
      fan.needsPump = false
      pump()
    }
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
    if command.connectMessage {
      client.state = .greeting
      let frame =
        if command.protocol == .nats {
          maskedFrame(opcode: 0x2, payload: natsConnect)
        } else if binarySubscribers && !client.isPublisher {
          maskedFrame(opcode: 0x2, payload: binaryConnectMessage(batch: command.batch))
        } else {
          maskedFrame(opcode: 0x1, payload: command.batch ? batchConnectMessage : connectMessage)
        }
      client.greetingSentAt = uv_hrtime()
      send(client, frame)
    } else {
      opened(client)
    }
  }

  /// The first message back after the connect message: the client is established unless it is
  /// an error or a disconnect.
  func connectReply(_ client: Client, _ payload: [UInt8]) {
    let now = uv_hrtime()
    if let refusal = refusal(payload, "error", "disconnect") {
      return fail(client, "connect reply \(refusal)", detail: excerpt(payload))
    }
    connectReplies.record(now - client.greetingSentAt)
    opened(client)
  }

  func opened(_ client: Client) {
    client.state = .open
    established += 1
    inFlight -= 1
    handshakeOver()
  }

  /// A client lost before it was established (`detail`: logged, not part of the reason counted).
  func fail(_ client: Client, _ reason: String, detail: String? = nil) {
    let wasHandshaking = [.connecting, .handshaking, .greeting].contains(client.state)
    close(client)
    guard wasHandshaking else { return }
    failed += 1
    failures[reason, default: 0] += 1
    if failed <= 5 { log("client \(client.index): \(reason)" + (detail.map { ": \($0)" } ?? "")) }
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
    if command.scenario == .subscribe {
      startSubscribing()
    } else if roundTripsPerClient > 0 {
      startRoundTrips()
    } else {
      startHold()
    }
  }

  // MARK: round trips (ping: WebSocket ping frames; echo: JSON ping messages)

  func startRoundTrips() {
    phase = command.scenario == .echo ? .echoing : .pinging
    pingStartNs = uv_hrtime()
    let open = clients.filter { $0.state == .open }
    roundTripClientsLeft = open.count
    if open.isEmpty { return finishRoundTrips() }
    for client in open { sendNext(client) }
  }

  func sendNext(_ client: Client) {
    let frame: [UInt8]
    if command.scenario == .echo {
      frame = maskedFrame(opcode: 0x1, payload: pingMessage(id: client.roundTripsDone + 1, data: echoData))
    } else {
      var payload = [UInt8](repeating: 0, count: command.pingPayload)
      var seq = UInt64(client.index) << 32 | UInt64(client.roundTripsDone)
      for i in 0..<min(8, payload.count) {
        payload[i] = UInt8(seq & 0xFF)
        seq >>= 8
      }
      client.pingPayload = payload
      frame = maskedFrame(opcode: 0x9, payload: payload)
    }
    client.awaitingReply = true
    client.sentAt = uv_hrtime()
    send(client, frame)
  }

  /// A pong frame (scenario ping).
  func pong(_ client: Client, _ payload: UnsafeBufferPointer<UInt8>) {
    let now = uv_hrtime()
    // Unsolicited pongs are allowed and ignored; in the echo scenario every pong is one.
    guard command.scenario == .ping, client.awaitingReply else { return }
    if !payload.elementsEqual(client.pingPayload) { pongMismatches += 1 }
    roundTrips.record(now - client.sentAt)
    roundTripDone(client)
  }

  /// The reply to an echo-scenario message: any text or binary message. An echo of it or a
  /// matching {"type":"pong","id":N,"data":...} is a round trip; "error" or "disconnect" ends
  /// this client's round trips as a failure; anything else counts as a round trip and a mismatch.
  func echoReply(_ client: Client, _ payload: [UInt8]) {
    let now = uv_hrtime()
    if let refusal = refusal(payload, "error", "disconnect") {
      pingsFailed += 1
      pingFailures["reply \(refusal)", default: 0] += 1
      if pingsFailed <= 5 { log("client \(client.index): reply \(excerpt(payload))") }
      return roundTripClientFinished(client)
    }
    roundTrips.record(now - client.sentAt)
    if !isReply(payload, id: client.roundTripsDone + 1) { pongMismatches += 1 }
    roundTripDone(client)
  }

  /// Whether `payload` is the echo of ping message `id` or its pong: type ping or pong, the id,
  /// the same data.
  func isReply(_ payload: [UInt8], id: Int) -> Bool {
    let type = jsonStringField(payload, "type")
    guard type == "ping" || type == "pong", jsonIntField(payload, "id") == id,
      let (start, end) = jsonFieldValue(payload, "data"), end - start == echoData.count + 2
    else { return false }
    return payload[(start + 1)..<(end - 1)].elementsEqual(echoData)
  }

  func roundTripDone(_ client: Client) {
    client.awaitingReply = false
    client.roundTripsDone += 1
    pingsTotal += 1
    if client.roundTripsDone < roundTripsPerClient {
      sendNext(client)
    } else {
      roundTripClientFinished(client)
    }
  }

  func roundTripClientFinished(_ client: Client) {
    guard inRoundTripPhase, !client.roundTripsFinished else { return }
    client.roundTripsFinished = true
    client.awaitingReply = false
    roundTripClientsLeft -= 1
    if roundTripClientsLeft == 0 { finishRoundTrips() }
  }

  func finishRoundTrips() {
    pingEndNs = uv_hrtime()
    startHold()
  }

  // MARK: frames

  /// The frames in `client.buffer` (bytes kept from earlier reads, or after the handshake).
  func bufferedFrames(_ client: Client) {
    var bytes: [UInt8] = []
    swap(&bytes, &client.buffer)
    let consumed = bytes.withUnsafeBufferPointer { frames(client, $0) }
    guard client.state == .greeting || client.state == .open else { return }
    bytes.removeSubrange(0..<consumed)
    client.buffer = bytes
  }

  /// Handles every complete frame at the front of `bytes`; returns how many bytes they took.
  /// Stops when the client is closed (a protocol error, a close frame).
  func frames(_ client: Client, _ bytes: UnsafeBufferPointer<UInt8>) -> Int {
    var at = 0
    while client.state == .greeting || client.state == .open {
      let header: ServerFrameHeader?
      do {
        header = try serverFrameHeader(bytes, at: at)
      } catch {
        protocolError(client, "\(error)")
        return at
      }
      guard let header else { return at }
      at = header.end
      let payload = UnsafeBufferPointer(rebasing: bytes[header.payloadStart..<header.end])
      switch header.opcode {
      case 0x1, 0x2:
        guard client.fragmentOpcode == nil else {
          protocolError(client, "data frame inside a fragmented message")
          return at
        }
        if header.fin {
          message(client, payload)
        } else {
          client.fragmentOpcode = header.opcode
          client.fragments = Array(payload)
        }
      case 0x0:
        guard client.fragmentOpcode != nil else {
          protocolError(client, "continuation frame without a message")
          return at
        }
        guard client.fragments.count + payload.count <= maxServerMessageBytes else {
          protocolError(client, "message over \(maxServerMessageBytes) bytes")
          return at
        }
        client.fragments += payload
        if header.fin {
          let whole = client.fragments
          client.fragmentOpcode = nil
          client.fragments = []
          whole.withUnsafeBufferPointer { message(client, $0) }
        }
      case 0xA: pong(client, payload)
      case 0x9:
        serverPings += 1
        send(client, maskedFrame(opcode: 0xA, payload: Array(payload)))
      case 0x8: serverClose(client, Array(payload))
      default:
        protocolError(client, "reserved opcode \(header.opcode)")
        return at
      }
    }
    return at
  }

  /// A complete text or binary message.
  func message(_ client: Client, _ payload: UnsafeBufferPointer<UInt8>) {
    if isNats {
      natsData(client, payload)
    } else if binarySubscribers && !client.isPublisher {
      binaryMessage(client, payload)
    } else if client.state == .greeting {
      connectReply(client, Array(payload))
    } else if scenario == .subscribe {
      fanoutMessage(client, payload)
    } else if scenario == .echo && client.awaitingReply {
      echoReply(client, Array(payload))
    } else {
      serverDataFrames += 1
    }
  }

  func serverClose(_ client: Client, _ payload: [UInt8]) {
    serverCloses += 1
    let code = payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : 0
    if serverCloses <= 5 {
      let reason = String(decoding: payload.dropFirst(2), as: UTF8.self)
      log("client \(client.index): server sent close \(code) \(reason) in phase \(phase.rawValue)")
    }
    if phase != .closing { send(client, maskedFrame(opcode: 0x8, payload: Array(payload.prefix(2)))) }
    if client.state == .greeting { return fail(client, "server close \(code) before the connect reply") }
    if phase != .closing { droppedAfterOpen += 1 }
    close(client)
    roundTripClientFinished(client)
    fanoutClientLost(client)
  }

  func protocolError(_ client: Client, _ reason: String) {
    protocolErrors += 1
    if client.state == .greeting { return fail(client, "protocol error before the connect reply", detail: reason) }
    if protocolErrors <= 5 { log("client \(client.index): protocol error from server: \(reason)") }
    close(client)
    roundTripClientFinished(client)
    fanoutClientLost(client)
  }

  /// `TYPE` or `TYPE CODE` (the "code" field, a name or a number) when the message's "type" is
  /// one of `types`, else nil.
  func refusal(_ payload: [UInt8], _ types: String...) -> String? {
    guard let type = jsonStringField(payload, "type"), types.contains(type) else { return nil }
    let code = jsonStringField(payload, "code") ?? jsonIntField(payload, "code").map { String($0) }
    return code.map { "\(type) \($0)" } ?? type
  }

  func excerpt(_ payload: [UInt8]) -> String {
    String(decoding: payload.prefix(200), as: UTF8.self) + (payload.count > 200 ? "..." : "")
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
      if client.state == .greeting || client.state == .open {
        send(client, maskedFrame(opcode: 0x8, payload: closeFrame))
      }
      close(client)
    }
    if !timersClosed {
      timersClosed = true
      uv_close(UnsafeMutableRawPointer(deadline).assumingMemoryBound(to: uv_handle_t.self), nil)
      uv_close(UnsafeMutableRawPointer(phaseTimer).assumingMemoryBound(to: uv_handle_t.self), nil)
      uv_close(UnsafeMutableRawPointer(publishTimer).assumingMemoryBound(to: uv_handle_t.self), nil)
      uv_close(UnsafeMutableRawPointer(drainTimer).assumingMemoryBound(to: uv_handle_t.self), nil)
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

  /// Writes `bytes` (copied next to the request, freed in the callback). `publisherBatch`: its
  /// completion calls `publisherBatchWritten()` (pacing by writes, scenario subscribe).
  func send(_ client: Client, _ bytes: [UInt8], publisherBatch: Bool = false) {
    guard let handle = client.handle else { return }
    let header = (MemoryLayout<uv_write_t>.size + 15) & ~15
    let block = UnsafeMutableRawPointer.allocate(byteCount: header + bytes.count, alignment: 16)
    let data = block + header
    bytes.withUnsafeBytes { data.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    let request = block.assumingMemoryBound(to: uv_write_t.self)
    request.pointee.data = publisherBatch ? UnsafeMutableRawPointer(bitPattern: 1) : nil
    var buf = uv_buf_init(data.assumingMemoryBound(to: CChar.self), UInt32(bytes.count))
    let rc = uv_write(request, UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self), &buf, 1) {
      request, status in
      let runner = Runner.from(request!.pointee.handle!.pointee.loop)
      if status < 0 && status != Int32(UV_ECANCELED.rawValue) { runner.writeErrors += 1 }
      let batch = request!.pointee.data != nil
      UnsafeMutableRawPointer(request!).deallocate()
      if batch { runner.publisherBatchWritten() }
    }
    if rc < 0 {
      block.deallocate()
      writeErrors += 1
      if publisherBatch { fan.batchInFlight = false }
    }
  }

  // MARK: report

  func report() -> String {
    let connectSeconds = Double((connectedNs == 0 ? endNs : connectedNs) - startNs) / 1e9
    var fields: [(String, String)] = [
      ("scenario", "\"\(command.scenario.rawValue)\""),
      ("protocol", "\"\(command.protocol.rawValue)\""),
      ("subscriber_encoding", binarySubscribers ? "\"binary\"" : isNats ? "\"nats\"" : "\"json\""),
      ("url", "\"\(command.url)\""),
      ("connections_requested", "\(clients.count)"),
      ("connections_established", "\(established)"),
      ("connections_failed", "\(failed)"),
      ("connections_not_attempted", "\(clients.count - nextToStart)"),
      ("connections_unfinished", "\(nextToStart - established - failed)"),
      ("concurrency", "\(command.concurrency)"),
      ("source_addresses", "\(command.sourceAddresses)"),
      ("connect_seconds", fmt(connectSeconds, 3)),
      ("handshakes_per_second", fmt(connectSeconds > 0 ? Double(established) / connectSeconds : 0, 0)),
      ("handshake_us", percentiles(handshakes)),
      ("connect_message", command.connectMessage ? "true" : "false"),
      ("connect_reply_us", percentiles(connectReplies)),
    ]
    if !failures.isEmpty {
      let list = failures.sorted { $0.value > $1.value }.map { "\"\(jsonEscape($0.key))\":\($0.value)" }
      fields.append(("failures", "{" + list.joined(separator: ",") + "}"))
    }
    if command.scenario == .subscribe {
      fields += fanoutReport()
    } else if command.scenario != .connect {
      // The same fields for both: in echo, a "ping" is a {"type":"ping"} message and its payload
      // the "data" string (message_bytes: the whole text message).
      let seconds = pingEndNs > pingStartNs ? Double(pingEndNs - pingStartNs) / 1e9 : 0
      let echo = command.scenario == .echo
      fields += [
        ("pings_per_client", "\(roundTripsPerClient)"),
        ("ping_payload_bytes", "\(echo ? echoData.count : command.pingPayload)"),
      ]
      if echo { fields.append(("message_bytes", "\(pingMessage(id: 1, data: echoData).count)")) }
      fields += [
        ("pings_completed", "\(pingsTotal)"),
        ("ping_seconds", fmt(seconds, 3)),
        ("pings_per_second", fmt(seconds > 0 ? Double(pingsTotal) / seconds : 0, 0)),
        ("round_trip_us", percentiles(roundTrips)),
        ("pong_payload_mismatches", "\(pongMismatches)"),
      ]
      if echo {
        fields.append(("pings_failed", "\(pingsFailed)"))
        if !pingFailures.isEmpty {
          let list = pingFailures.sorted { $0.value > $1.value }.map { "\"\(jsonEscape($0.key))\":\($0.value)" }
          fields.append(("ping_failures", "{" + list.joined(separator: ",") + "}"))
        }
      }
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

  func percentiles(_ h: Histogram<UInt64>, p999: Bool = false) -> String {
    guard h.totalCount > 0 else { return "null" }
    func us(_ ns: UInt64) -> String { fmt(Double(ns) / 1000, 1) }
    return "{\"count\":\(h.totalCount),\"p50\":\(us(h.valueAtPercentile(50))),\"p90\":\(us(h.valueAtPercentile(90))),"
      + "\"p99\":\(us(h.valueAtPercentile(99))),"
      + (p999 ? "\"p99_9\":\(us(h.valueAtPercentile(99.9)))," : "") + "\"max\":\(us(h.maxRecorded))}"
  }
}

func fmt(_ v: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", v) }

func errName(_ code: Int32) -> String { String(cString: uv_err_name(code)) }

func jsonEscape(_ s: String) -> String {
  s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
}

/// The first index at or after `start` where `needle` occurs in `haystack`.
func findSubsequence(_ haystack: [UInt8], _ needle: [UInt8], from start: Int = 0) -> Int? {
  guard !needle.isEmpty, start >= 0, haystack.count - start >= needle.count else { return nil }
  for i in start...(haystack.count - needle.count) where haystack[i] == needle[0] {
    var j = 1
    while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
    if j == needle.count { return i }
  }
  return nil
}
