// Scenario subscribe: fan-out. --connections subscribers each subscribe to --channel; one more
// client (the publisher, the last one) publishes --messages messages to it, paced by --rate or
// by --window, each carrying its send time; every subscriber records publish-to-deliver latency
// and checks its stream for gaps, duplicates and reordering.
import CUVBench
import Foundation
import Histogram

/// The fan-out's counters and histograms (one per run, loop thread only).
final class FanoutState {
  let messages: Int
  let acks: Bool
  let padding: [UInt8]
  let channelBytes: [UInt8]

  // Subscribing.
  var subscribeLeft = 0
  var subscribedCount = 0
  var subscribeFailed = 0
  var subscribeFailures: [String: Int] = [:]
  var subscribeReplies = latencyHistogram()
  var subscribeStartNs: UInt64 = 0
  var subscribeEndNs: UInt64 = 0

  // Publishing.
  var publisher: Client?
  var sent = 0
  /// Send time of publish `id` (index), 0 once it is answered.
  var sendTimes: [UInt64] = []
  var acked = 0
  var errors = 0
  var failures: [String: Int] = [:]
  var unexpectedAcks = 0
  var unacked = 0
  var maxUnacked = 0
  /// --rate 0 --no-acks: a batch written but its write not completed yet.
  var batchInFlight = false
  /// An ack freed window room while a read was handled: publish more after it.
  var needsPump = false
  var ackLatency = latencyHistogram()
  var publishStartNs: UInt64 = 0
  var lastSendNs: UInt64 = 0
  var lastAckNs: UInt64 = 0
  var publishOverNs: UInt64 = 0
  var publishingOver = false
  var publisherLost = false
  /// With acks: none came for --drain-ms while some were unanswered (publishing ended there).
  var ackStall = false
  var publisherOther = 0
  var publishMessageBytes = 0

  // Delivering.
  var expected = 0
  var received = 0
  var unique = 0
  var duplicates = 0
  var outOfOrder = 0
  var sequenceGaps = 0
  var unparsable = 0
  var arrayFrames = 0
  var otherMessages = 0
  var subscriberErrors: [String: Int] = [:]
  var latency = latencyHistogram()
  var firstDeliveryNs: UInt64 = 0
  var lastDeliveryNs: UInt64 = 0
  var deliveryMessageBytes = 0
  var endedBy = "not_started"

  init(command: RTLoad) {
    messages = command.messages
    acks = command.acks
    padding = [UInt8](repeating: UInt8(ascii: "x"), count: command.payloadBytes ?? 0)
    channelBytes = Array(command.channel.utf8)
  }

  /// `{"type":"subscribe","id":1,"channel":"C"}`
  func subscribeMessage() -> [UInt8] {
    Array(#"{"type":"subscribe","id":1,"channel":""#.utf8) + channelBytes + Array(#""}"#.utf8)
  }

  /// `{"type":"publish","id":N,"channel":"C","data":DATA}` (see `publishData`).
  func publishMessage(id: Int, time: UInt64) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(96 + channelBytes.count + padding.count)
    out += #"{"type":"publish","id":"#.utf8
    out += String(id).utf8
    out += #","channel":""#.utf8
    out += channelBytes
    out += #"","data":"#.utf8
    out += publishData(id: id, time: time)
    out += "}".utf8
    return out
  }

  /// `{"t":T,"n":N}`, with `,"p":"xx…"` (the padding) after n when --payload-bytes is given.
  /// T: uv_hrtime() at the send, in ns.
  func publishData(id: Int, time: UInt64) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(48 + padding.count)
    out += #"{"t":"#.utf8
    out += String(time).utf8
    out += #","n":"#.utf8
    out += String(id).utf8
    if !padding.isEmpty {
      out += #","p":""#.utf8
      out += padding
      out += #"""#.utf8
    }
    out += "}".utf8
    return out
  }
}

private let keyType = Array(#""type""#.utf8)
private let keyData = Array(#""data""#.utf8)
private let keyOffset = Array(#""offset""#.utf8)
private let keyT = Array(#""t""#.utf8)
private let keyN = Array(#""n""#.utf8)
private let typeMessage = Array("message".utf8)
private let typePublish = Array("publish".utf8)

/// Where the values of up to three keys (each with its quotes) start in the JSON object
/// `p[range]`, nil for a key not at its top level: one pass over the object that stops once every
/// key is found, the way a streaming JSON client reads it (a search per key was a third of
/// rt-load's time, and the load generator must not be the floor of what it measures).
func valueStarts(
  _ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ k0: [UInt8], _ k1: [UInt8], _ k2: [UInt8]? = nil
) -> (Int?, Int?, Int?) {
  var found: (Int?, Int?, Int?) = (nil, nil, k2 == nil ? -1 : nil)
  let end = range.upperBound
  var i = range.lowerBound
  func skipSpace() { while i < end && isSpace(p[i]) { i += 1 } }
  func stringEnd(_ from: Int) -> Int {  // index after the closing quote of the string at `from`
    var j = from + 1
    while j < end && p[j] != UInt8(ascii: "\"") { j += p[j] == UInt8(ascii: "\\") ? 2 : 1 }
    return j + 1
  }
  func same(_ key: [UInt8], _ start: Int, _ stop: Int) -> Bool {
    guard key.count == stop - start else { return false }
    for j in 0..<key.count where key[j] != p[start + j] { return false }
    return true
  }
  skipSpace()
  guard i < end, p[i] == UInt8(ascii: "{") else { return found }
  i += 1
  while true {
    skipSpace()
    guard i < end, p[i] == UInt8(ascii: "\"") else { break }
    let keyStart = i
    i = stringEnd(i)
    let keyEnd = i
    skipSpace()
    guard i < end, p[i] == UInt8(ascii: ":") else { break }
    i += 1
    skipSpace()
    guard i < end else { break }
    if found.0 == nil && same(k0, keyStart, keyEnd) {
      found.0 = i
    } else if found.1 == nil && same(k1, keyStart, keyEnd) {
      found.1 = i
    } else if found.2 == nil, let k2, same(k2, keyStart, keyEnd) {
      found.2 = i
    }
    if found.0 != nil && found.1 != nil && found.2 != nil { break }
    // Skip the value.
    switch p[i] {
    case UInt8(ascii: "\""): i = stringEnd(i)
    case UInt8(ascii: "{"), UInt8(ascii: "["):
      var depth = 0
      repeat {
        let c = p[i]
        if c == UInt8(ascii: "\"") {
          i = stringEnd(i)
          continue
        }
        if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") { depth += 1 }
        if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") { depth -= 1 }
        i += 1
      } while i < end && depth > 0
    default:
      while i < end && p[i] != UInt8(ascii: ",") && p[i] != UInt8(ascii: "}") { i += 1 }
    }
    skipSpace()
    guard i < end, p[i] == UInt8(ascii: ",") else { break }
    i += 1
  }
  if found.2 == -1 { found.2 = nil }
  return found
}

/// The unsigned integer at `p[at...]` (digits only), or nil.
func unsignedValue(_ p: UnsafeBufferPointer<UInt8>, _ at: Int?, end: Int) -> UInt64? {
  guard var i = at, i < end, p[i] >= 0x30 && p[i] <= 0x39 else { return nil }
  var value: UInt64 = 0
  while i < end && p[i] >= 0x30 && p[i] <= 0x39 {
    let (m, o1) = value.multipliedReportingOverflow(by: 10)
    let (a, o2) = m.addingReportingOverflow(UInt64(p[i] - 0x30))
    if o1 || o2 { return nil }
    value = a
    i += 1
  }
  return value
}

/// Whether the string value starting at `p[at]` (its opening quote) is exactly `word`.
func stringValueIs(_ p: UnsafeBufferPointer<UInt8>, _ at: Int?, end: Int, _ word: [UInt8]) -> Bool {
  guard let at, at + word.count + 1 < end, p[at] == UInt8(ascii: "\"") else { return false }
  for j in 0..<word.count where p[at + 1 + j] != word[j] { return false }
  return p[at + 1 + word.count] == UInt8(ascii: "\"")
}

private func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

enum MessageShape { case object, array, other }

/// Calls `body` with the byte range of every object in a text message that holds one JSON
/// object or an array of objects (a future server may batch messages). Returns `.other` when the
/// message is neither (nothing called).
@discardableResult
func forEachObject(_ p: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) -> MessageShape {
  var i = 0
  while i < p.count && isSpace(p[i]) { i += 1 }
  guard i < p.count else { return .other }
  if p[i] == UInt8(ascii: "{") {
    body(i..<p.count)
    return .object
  }
  guard p[i] == UInt8(ascii: "[") else { return .other }
  i += 1
  var depth = 0
  var inString = false
  var objectStart = 0
  while i < p.count {
    let c = p[i]
    if inString {
      if c == UInt8(ascii: "\\") {
        i += 2
        continue
      }
      if c == UInt8(ascii: "\"") { inString = false }
    } else if c == UInt8(ascii: "\"") {
      inString = true
    } else if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
      if depth == 0 { objectStart = i }
      depth += 1
    } else if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") {
      if depth == 0 { break }  // the array's own end
      depth -= 1
      if depth == 0 && c == UInt8(ascii: "}") && p[objectStart] == UInt8(ascii: "{") { body(objectStart..<(i + 1)) }
    }
    i += 1
  }
  return .array
}

extension Runner {
  var messagesToPublish: Int { fan.messages }

  // MARK: subscribing

  func startSubscribing() {
    phase = .subscribing
    let now = uv_hrtime()
    fan.subscribeStartNs = now
    let subscribers = clients.filter { !$0.isPublisher && $0.state == .open }
    fan.subscribeLeft = subscribers.count
    if subscribers.isEmpty { return startPublishing() }
    let nats = command.protocol == .nats
    let message =
      nats
      ? natsSubscribe(channel: fan.channelBytes)
      : binarySubscribers ? binarySubscribeMessage(channel: fan.channelBytes) : fan.subscribeMessage()
    for client in subscribers {
      client.subscribePending = true
      client.subscribeSentAt = now
      send(client, maskedFrame(opcode: nats || binarySubscribers ? 0x2 : 0x1, payload: message))
    }
  }

  /// The first message after the subscribe message: `subscribed` (or, from a server without the
  /// protocol, anything that is not an error or a disconnect) makes the client a subscriber.
  func subscribeReply(_ client: Client, _ payload: [UInt8]) {
    if let refusal = refusal(payload, "error", "disconnect") {
      subscribeRefused(client, "subscribe reply \(refusal)", detail: excerpt(payload))
    } else {
      var offset: UInt64?
      if jsonStringField(payload, "type") == "subscribed", let value = jsonIntField(payload, "offset"), value >= 0 {
        offset = UInt64(value)
      }
      subscribeAccepted(client, offset: offset)
    }
  }

  func subscribeAccepted(_ client: Client, offset: UInt64?) {
    client.subscribePending = false
    client.subscribed = true
    fan.subscribedCount += 1
    fan.subscribeReplies.record(readNs - client.subscribeSentAt)
    client.subscribedOffset = offset
    client.seen = [UInt64](repeating: 0, count: messagesToPublish / 64 + 1)
    subscribeDone()
  }

  func subscribeRefused(_ client: Client, _ reason: String, detail: String) {
    client.subscribePending = false
    fan.subscribeFailed += 1
    fan.subscribeFailures[reason, default: 0] += 1
    if fan.subscribeFailed <= 5 { log("client \(client.index): subscribe refused: \(detail)") }
    subscribeDone()
  }

  func subscribeDone() {
    fan.subscribeLeft -= 1
    if fan.subscribeLeft == 0 && phase == .subscribing { startPublishing() }
  }

  // MARK: publishing

  func startPublishing() {
    fan.subscribeEndNs = uv_hrtime()
    log(
      "subscribed \(fan.subscribedCount), failed \(fan.subscribeFailed) in "
        + "\(fmt(Double(fan.subscribeEndNs - fan.subscribeStartNs) / 1e6)) ms")
    guard let publisher = fan.publisher, publisher.state == .open else {
      log("the publisher is not connected: nothing published")
      fan.endedBy = "no_publisher"
      return startHold()
    }
    phase = .publishing
    fan.endedBy = "publishing"
    fan.sendTimes = [UInt64](repeating: 0, count: messagesToPublish + 1)
    fan.publishStartNs = uv_hrtime()
    uv_timer_start(drainTimer, { t in Runner.from(t!.pointee.loop).drainCheck() }, 20, 20)
    if command.rate > 0 {
      uv_timer_start(publishTimer, { t in Runner.from(t!.pointee.loop).pump() }, 0, 1)
    } else {
      pump()
    }
  }

  /// Publishes what the pacing allows now: with --rate, every message due by now (the first at
  /// once); at --rate 0, up to --window un-acked (or, with --no-acks, one batch of --window
  /// whose write must complete before the next). One write per batch.
  func pump() {
    guard phase == .publishing, !fan.publishingOver, let publisher = fan.publisher, publisher.state == .open else {
      return
    }
    let now = uv_hrtime()
    var count: Int
    if command.rate > 0 {
      let due = Int(Double(now - fan.publishStartNs) * command.rate / 1e9) + 1
      count = min(due, messagesToPublish) - fan.sent
    } else if command.acks {
      count = command.window - fan.unacked
    } else {
      guard !fan.batchInFlight else { return }
      count = command.window
    }
    count = min(count, messagesToPublish - fan.sent, 8192)
    guard count > 0 else { return }
    var batch: [UInt8] = []
    let nats = command.protocol == .nats
    for k in 1...count {
      let id = fan.sent + k
      let message =
        nats
        ? natsPublish(channel: fan.channelBytes, data: fan.publishData(id: id, time: now), ping: command.acks)
        : fan.publishMessage(id: id, time: now)
      if id == 1 { fan.publishMessageBytes = message.count }
      fan.sendTimes[id] = now
      batch += maskedFrame(opcode: nats ? 0x2 : 0x1, payload: message)
    }
    let paceByWrites = command.rate == 0 && !command.acks
    if paceByWrites { fan.batchInFlight = true }
    send(publisher, batch, publisherBatch: paceByWrites)
    fan.sent += count
    fan.lastSendNs = now
    if command.acks {
      fan.unacked += count
      fan.maxUnacked = max(fan.maxUnacked, fan.unacked)
    }
    if fan.sent == messagesToPublish {
      uv_timer_stop(publishTimer)
      if !command.acks { publishingFinished() }
    }
  }

  /// The write of a --rate 0 --no-acks batch completed: the next one may go.
  func publisherBatchWritten() {
    fan.batchInFlight = false
    pump()
  }

  /// A message to the publisher: acks and errors for its publishes (one object or an array).
  func publisherMessage(_ payload: UnsafeBufferPointer<UInt8>) {
    let shape = forEachObject(payload) { range in
      let object = Array(UnsafeBufferPointer(rebasing: payload[range]))
      let type = jsonStringField(object, "type")
      let id = jsonIntField(object, "id") ?? 0
      let pending = id >= 1 && id <= fan.sent && fan.sendTimes[id] != 0
      switch type {
      case "ack" where pending:
        fan.ackLatency.record(readNs - fan.sendTimes[id])
        fan.sendTimes[id] = 0
        fan.acked += 1
        fan.unacked -= 1
        fan.lastAckNs = readNs
      case "ack":
        fan.unexpectedAcks += 1
      case "error" where pending:
        fan.sendTimes[id] = 0
        fan.errors += 1
        fan.unacked -= 1
        fan.lastAckNs = readNs
        fan.failures["publish reply \(refusal(object, "error") ?? "error")", default: 0] += 1
        if fan.errors <= 5 { log("publish \(id) refused: \(excerpt(object))") }
      default:
        fan.publisherOther += 1
        if type == "error" || type == "disconnect" {
          fan.failures["publisher got \(refusal(object, "error", "disconnect") ?? "error")", default: 0] += 1
          log("publisher: \(excerpt(object))")
        }
      }
    }
    if shape == .other { fan.publisherOther += 1 }
    afterPublisherReplies()
  }

  /// Acks came in: publishing is over once all are answered; else, at --rate 0, the window has
  /// room again (the next batch goes after the read is handled).
  func afterPublisherReplies() {
    guard command.acks, phase == .publishing else { return }
    if fan.sent == messagesToPublish && fan.unacked == 0 {
      publishingFinished()
    } else if command.rate == 0 {
      fan.needsPump = true
    }
  }

  /// Every publish sent (and, with acks, answered), or the publisher gone: wait for the rest of
  /// the deliveries.
  func publishingFinished() {
    guard !fan.publishingOver else { return }
    fan.publishingOver = true
    fan.publishOverNs = uv_hrtime()
    uv_timer_stop(publishTimer)
    // Every publish not refused: with acks all are answered here, unless they stalled or the
    // publisher was lost, and then the unanswered ones still count (missing if not delivered).
    fan.expected = fan.subscribedCount * (fan.sent - fan.errors)
    phase = .draining
    fan.endedBy = "draining"
    log(
      "published \(fan.sent) (acks \(fan.acked), errors \(fan.errors)) in "
        + "\(fmt(Double(fan.lastSendNs - fan.publishStartNs) / 1e6)) ms; \(fan.unique) of \(fan.expected) delivered")
    checkAllDelivered()
  }

  func checkAllDelivered() {
    if phase == .draining && fan.unique >= fan.expected { finishFanout("all_delivered") }
  }

  /// Every 20 ms while publishing and draining: gives up when nothing has happened for --drain-ms
  /// (no new delivery after the last publish; with acks, no ack since the last send while some
  /// are unanswered: a server that does not ack, or a stall).
  func drainCheck() {
    let now = uv_hrtime()
    let quiet = command.drainMs * 1_000_000
    if phase == .publishing && command.acks && fan.unacked > 0 && now - max(fan.lastAckNs, fan.lastSendNs) > quiet {
      log("no ack for \(command.drainMs) ms with \(fan.unacked) publishes unanswered; draining")
      fan.ackStall = true
      return publishingFinished()
    }
    guard phase == .draining else { return }
    checkAllDelivered()
    if phase == .draining && now - max(fan.lastDeliveryNs, fan.publishOverNs) > quiet {
      log("no delivery for \(command.drainMs) ms: \(fan.unique) of \(fan.expected) delivered")
      finishFanout("drain_quiet")
    }
  }

  func finishFanout(_ reason: String) {
    fan.endedBy = reason
    uv_timer_stop(publishTimer)
    uv_timer_stop(drainTimer)
    startHold()
  }

  func fanoutTimedOut() {
    guard command.scenario == .subscribe else { return }
    if [.subscribing, .publishing, .draining].contains(phase) { fan.endedBy = "timeout" }
    if phase == .connecting || phase == .settling { fan.endedBy = "timeout_connecting" }
  }

  /// A client closed or dropped after it was established.
  func fanoutClientLost(_ client: Client) {
    guard command.scenario == .subscribe else { return }
    if client.isPublisher {
      if phase == .publishing {
        fan.publisherLost = true
        log("the publisher's connection ended while publishing")
        publishingFinished()
      }
    } else if client.subscribePending {
      client.subscribePending = false
      fan.subscribeFailed += 1
      fan.subscribeFailures["connection ended before the subscribe reply", default: 0] += 1
      subscribeDone()
    }
  }

  // MARK: delivering

  func fanoutMessage(_ client: Client, _ payload: UnsafeBufferPointer<UInt8>) {
    if client.isPublisher { return publisherMessage(payload) }
    if client.subscribePending { return subscribeReply(client, Array(payload)) }
    guard client.subscribed else {
      serverDataFrames += 1
      return
    }
    if fan.deliveryMessageBytes == 0 { fan.deliveryMessageBytes = payload.count }
    switch forEachObject(payload, { delivery(client, payload, $0) }) {
    case .object: break
    case .array: fan.arrayFrames += 1
    case .other: fan.unparsable += 1
    }
    checkAllDelivered()
  }

  /// One message object to a subscriber: a `message` (or, from a broadcasting reference server,
  /// the `publish` itself) with data `{"t":T,"n":N,...}`.
  func delivery(_ client: Client, _ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
    let end = range.upperBound
    let (typeAt, dataStart, offsetAt) = valueStarts(p, range, keyType, keyData, keyOffset)
    guard stringValueIs(p, typeAt, end: end, typeMessage) || stringValueIs(p, typeAt, end: end, typePublish) else {
      let object = Array(UnsafeBufferPointer(rebasing: p[range]))
      if let refusal = refusal(object, "error", "disconnect") {
        fan.subscriberErrors[refusal, default: 0] += 1
        if fan.subscriberErrors.values.reduce(0, +) <= 5 { log("client \(client.index): \(excerpt(object))") }
      } else {
        fan.otherMessages += 1
      }
      return
    }
    guard let dataAt = dataStart, p[dataAt] == UInt8(ascii: "{") else {
      fan.received += 1
      fan.unparsable += 1
      return
    }
    let offset = unsignedValue(p, offsetAt, end: end)
    delivered(client, p, data: dataAt..<end, offset: offset)
  }

  /// One delivery to a subscriber: `p[data]` is rt-load's data object `{"t":T,"n":N,...}`;
  /// `offset`, the server's, when it sends one.
  func delivered(_ client: Client, _ p: UnsafeBufferPointer<UInt8>, data: Range<Int>, offset: UInt64?) {
    fan.received += 1
    let now = readNs
    if fan.firstDeliveryNs == 0 { fan.firstDeliveryNs = now }
    fan.lastDeliveryNs = now
    let (tAt, nAt, _) = valueStarts(p, data, keyT, keyN)
    guard let t = unsignedValue(p, tAt, end: data.upperBound),
      let n = unsignedValue(p, nAt, end: data.upperBound), n >= 1,
      n <= UInt64(messagesToPublish)
    else {
      fan.unparsable += 1
      return
    }
    fan.latency.record(now >= t ? now - t : 0)
    let word = Int(n >> 6)
    let bit = UInt64(1) << (n & 63)
    let duplicate = client.seen[word] & bit != 0
    if duplicate {
      fan.duplicates += 1
    } else {
      client.seen[word] |= bit
      fan.unique += 1
    }
    // Order: by offset when the server sends one (gapless from the subscribed offset + 1), else by n.
    let seq = offset ?? n
    let last = client.lastSeq ?? (offset == nil ? 0 : client.subscribedOffset ?? (seq > 0 ? seq - 1 : 0))
    if seq > last {
      fan.sequenceGaps += Int(seq - last - 1)
      client.lastSeq = seq
    } else {
      client.lastSeq = last
      if !duplicate { fan.outOfOrder += 1 }
    }
  }

  // MARK: report

  func fanoutReport() -> [(String, String)] {
    func seconds(_ from: UInt64, _ to: UInt64) -> Double { to > from && from > 0 ? Double(to - from) / 1e9 : 0 }
    func object(_ counts: [String: Int]) -> String {
      "{" + counts.sorted { $0.value > $1.value }.map { "\"\(jsonEscape($0.key))\":\($0.value)" }.joined(separator: ",")
        + "}"
    }
    let publishSeconds = seconds(fan.publishStartNs, fan.lastSendNs)
    let deliverySeconds = seconds(fan.publishStartNs, fan.lastDeliveryNs)
    let expected = fan.publishingOver ? fan.expected : fan.subscribedCount * (fan.sent - fan.errors)
    var fields: [(String, String)] = [
      ("subscribers", "\(command.connections)"),
      ("subscribers_subscribed", "\(fan.subscribedCount)"),
      ("subscribe_failed", "\(fan.subscribeFailed)"),
    ]
    if !fan.subscribeFailures.isEmpty { fields.append(("subscribe_failures", object(fan.subscribeFailures))) }
    fields += [
      ("subscribe_seconds", fmt(seconds(fan.subscribeStartNs, fan.subscribeEndNs), 3)),
      ("subscribe_reply_us", percentiles(fan.subscribeReplies)),
      ("channel", "\"\(jsonEscape(command.channel))\""),
      ("acks", command.acks ? "true" : "false"),
      ("rate_target", command.rate > 0 ? fmt(command.rate, 0) : "null"),
      ("window", command.rate > 0 ? "null" : "\(command.window)"),
      ("data_padding_bytes", "\(fan.padding.count)"),
      ("publish_message_bytes", "\(fan.publishMessageBytes)"),
      ("delivery_message_bytes", "\(fan.deliveryMessageBytes)"),
      ("messages_requested", "\(messagesToPublish)"),
      ("messages_published", "\(fan.sent)"),
      ("publish_acks", "\(fan.acked)"),
      ("publish_errors", "\(fan.errors)"),
      ("publish_unanswered", command.acks ? "\(fan.sent - fan.acked - fan.errors)" : "null"),
    ]
    if !fan.failures.isEmpty { fields.append(("publish_failures", object(fan.failures))) }
    fields += [
      ("unexpected_acks", "\(fan.unexpectedAcks)"),
      ("max_unacked", command.acks ? "\(fan.maxUnacked)" : "null"),
      ("publisher_lost", fan.publisherLost ? "true" : "false"),
      ("ack_stall", fan.ackStall ? "true" : "false"),
      ("publish_seconds", fmt(publishSeconds, 3)),
      ("publish_rate", fmt(publishSeconds > 0 ? Double(fan.sent - 1) / publishSeconds : 0, 0)),
      ("ack_us", percentiles(fan.ackLatency)),
      ("deliveries_expected", "\(expected)"),
      ("deliveries_received", "\(fan.received)"),
      ("deliveries_unique", "\(fan.unique)"),
      ("deliveries_missing", "\(max(0, expected - fan.unique))"),
      ("delivery_seconds", fmt(deliverySeconds, 3)),
      ("deliveries_per_second", fmt(deliverySeconds > 0 ? Double(fan.received) / deliverySeconds : 0, 0)),
      ("latency_us", percentiles(fan.latency, p999: true)),
      ("sequence_gaps", "\(fan.sequenceGaps)"),
      ("duplicates", "\(fan.duplicates)"),
      ("out_of_order", "\(fan.outOfOrder)"),
      ("unparsable_deliveries", "\(fan.unparsable)"),
      ("array_frames", "\(fan.arrayFrames)"),
      ("other_messages_to_subscribers", "\(fan.otherMessages)"),
      ("publisher_other_messages", "\(fan.publisherOther)"),
    ]
    if !fan.subscriberErrors.isEmpty { fields.append(("subscriber_errors", object(fan.subscriberErrors))) }
    fields.append(("ended_by", "\"\(fan.endedBy)\""))
    return fields
  }
}
