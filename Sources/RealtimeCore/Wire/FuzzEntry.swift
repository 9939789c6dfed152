/// Fuzzing entry points: untrusted bytes through the wire parsers exactly as a connection feeds
/// them. Public only so the libFuzzer targets in `fuzz/` (built in release, without
/// `@testable`) can reach the internal codec. Never traps, whatever the input.
public enum FuzzEntry {
  /// Feeds `bytes` to an HTTP head parser in two pieces split at `split` (clamped), then validates
  /// a complete head as a WebSocket handshake. Returns 0 for need-more, 1 for a valid handshake,
  /// or the HTTP status of the refusal.
  public static func httpHead(_ bytes: UnsafeRawBufferPointer, split: Int) -> Int {
    var parser = HTTPHeadParser()
    let cut = min(max(split, 0), bytes.count)
    do throws(HTTPError) {
      var result = try parser.feed(UnsafeRawBufferPointer(rebasing: bytes[0..<cut]))
      if result == nil { result = try parser.feed(UnsafeRawBufferPointer(rebasing: bytes[cut...])) }
      guard let (head, used) = result else { return 0 }
      guard used <= bytes.count else { return 500 }
      _ = try Handshake.validate(head)
      return 1
    } catch {
      return error.status
    }
  }

  /// Feeds `bytes` to a frame parser (client frames, masked) in chunks of `chunk` bytes (at least
  /// 1) with a message limit of `maxMessageBytes`. Returns the number of events before the end or
  /// the first violation.
  public static func frames(_ bytes: UnsafeRawBufferPointer, chunk: Int, maxMessageBytes: Int) -> Int {
    var parser = FrameParser(maxMessageBytes: max(maxMessageBytes, 0))
    var events = 0
    let step = max(chunk, 1)
    var i = 0
    do throws(FrameError) {
      while i < bytes.count {
        let end = min(i + step, bytes.count)
        try parser.feed(UnsafeRawBufferPointer(rebasing: bytes[i..<end])) { _ in events += 1 }
        i = end
      }
    } catch {
      return events
    }
    return events
  }

  /// What `envelope` found.
  public enum EnvelopeOutcome: Equatable {
    /// The decoder refused the input with an error for the client.
    case refused
    /// The input decoded, and the message re-encoded and decoded back to the same message.
    case decoded
    /// Skipped: JSON input that is not UTF-8 (the WebSocket layer refuses it before the decoder).
    case notText
    /// A broken invariant: the message did not survive encode and decode. A bug.
    case roundTripMismatch
  }

  /// Decodes `bytes` as a protocol message, JSON (`binary` false) or binary; a message that
  /// decodes is encoded again in the same form and must decode to the same message.
  public static func envelope(_ bytes: UnsafeRawBufferPointer, binary: Bool) -> EnvelopeOutcome {
    let input = Array(bytes)
    if !binary && !UTF8Validator.isValid(bytes) { return .notText }
    let decode = { (bytes: [UInt8]) throws(ProtocolFault) -> Envelope in
      binary ? try BinaryEnvelopeReader.decode(bytes) : try JSONEnvelopeReader.decode(bytes)
    }
    guard let message = try? decode(input) else { return .refused }
    let again = try? decode(binary ? EnvelopeWriter.binary(message) : EnvelopeWriter.json(message))
    return again == message ? .decoded : .roundTripMismatch
  }

  /// Decodes `bytes` as a stored channel message. Returns -1 when refused, else the data's size;
  /// a record that decodes is encoded again and must decode to the same content (else -2).
  public static func channelRecord(_ bytes: UnsafeRawBufferPointer) -> Int {
    guard let record = try? ChannelRecord.decode(Array(bytes)) else { return -1 }
    let again = try? ChannelRecord.decode(
      ChannelRecord.encode(data: record.data, dataIsJSON: record.dataIsJSON, idempotencyKey: record.idempotencyKey))
    return again == record ? record.data.count : -2
  }

  /// Runs the operations `bytes` spells against a small rate limiter (64 keys) on a fake clock:
  /// policy changes, checks of any key and cost, time jumps. Returns the checks that passed, or
  /// -2 when a limit was broken: more accepted for a key over some window than the burst plus
  /// the window over the interval (tracked per key since its policy last changed).
  public static func rateLimiter(_ bytes: UnsafeRawBufferPointer) -> Int {
    final class Clock: @unchecked Sendable { var now: UInt64 = 1_000_000_000 }
    let clock = Clock()
    let limiter = RateLimiter(maxKeys: 64, clock: { clock.now })
    var accepted: [String: [(time: UInt64, cost: UInt64)]] = [:]
    var policies: [String: RateLimitPolicy] = [:]
    var passed = 0
    var i = 0
    func next() -> UInt64 {
      defer { i += 1 }
      return i < bytes.count ? UInt64(bytes[i]) : 0
    }
    while i < bytes.count {
      let op = next() % 4
      let name = "p\(next() % 4)"
      switch op {
      case 0:
        let policy = RateLimitPolicy(count: 1 + next(), periodMs: 1 + next() * next(), burst: 1 + next() % 16)
        guard (try? limiter.set(name, policy)) != nil else { continue }
        policies[name] = policy
        accepted = accepted.filter { !$0.key.hasPrefix(name + "/") }
      case 1:
        let length = Int(next() % 20)
        var key: [UInt8] = []
        for _ in 0..<length { key.append(UInt8(next())) }
        let cost = next() % 20
        guard let decision = try? limiter.check(name, key: key, cost: cost) else { continue }
        guard decision.allowed else { continue }
        passed += 1
        guard let policy = policies[name] else { continue }  // a default or turned-off policy
        let id = name + "/" + key.map { String($0) }.joined(separator: ",")
        accepted[id, default: []].append((clock.now, cost))
        var total: UInt64 = 0
        for entry in accepted[id]!.reversed() {
          total += entry.cost
          if total * policy.intervalNs > policy.burst * policy.intervalNs + (clock.now - entry.time) { return -2 }
        }
      case 2:
        var step = next()
        for _ in 0..<(next() % 10) { step *= 10 }
        clock.now += step
      default:
        guard (try? limiter.set(name, nil)) != nil else { continue }
        policies[name] = nil
        accepted = accepted.filter { !$0.key.hasPrefix(name + "/") }
      }
    }
    return passed
  }

  /// Decodes `bytes` as an encoded task record. Returns -1 when refused, the encoding's length
  /// when it decodes, or -2 when a decoded state does not re-encode to the same bytes, or does
  /// not merge into a fresh record of its id (to the same fields and text lengths: the text is
  /// placed by YATA's rule, not in the order the bytes listed it), or merging it twice does not
  /// change nothing the second time.
  public static func taskRecord(_ bytes: UnsafeRawBufferPointer) -> Int {
    guard let record = try? TaskRecord(decoding: Array(bytes), wallMs: 1_800_000_000_000) else { return -1 }
    guard record.encoded() == Array(bytes) else { return -2 }
    var fresh = TaskRecord(id: record.id)
    guard (try? fresh.merge(record)) != nil,
      fresh.encoded(title: [], description: []) == record.encoded(title: [], description: []),
      fresh.title.count == record.title.count, fresh.description.count == record.description.count
    else { return -2 }
    var again = fresh
    guard (try? again.merge(record)) != nil, again == fresh,
      let decoded = try? TaskRecord(decoding: fresh.encoded(), wallMs: 1_800_000_000_000), decoded == fresh
    else { return -2 }
    return bytes.count
  }

  /// A text document's decoders: the first byte chooses. Even: the rest is an update applied to
  /// a small document, which on error must be unchanged and on success must still snapshot and
  /// reload. Odd: the rest is a snapshot, which if it loads must snapshot to bytes that load to
  /// the same bytes again. Returns -1 for input that does not decode, -2 for a broken invariant.
  public static func textDocument(_ bytes: UnsafeRawBufferPointer) -> Int {
    guard let mode = bytes.first else { return -1 }
    let rest = Array(bytes.dropFirst())
    if mode & 1 == 0 {
      let doc = TextDocument(replica: ReplicaID(7))
      try? doc.insert("hello, world", at: 0)
      doc.delete(at: 3, length: 4)
      _ = doc.commit()
      let before = doc.snapshot()
      do {
        try doc.apply(rest)
      } catch {
        return doc.snapshot() == before ? -1 : -2
      }
      let after = doc.snapshot()
      guard let again = try? TextDocument(replica: ReplicaID(8), snapshot: after), again.snapshot() == after else {
        return -2
      }
      return bytes.count
    }
    guard let loaded = try? TextDocument(replica: ReplicaID(9), snapshot: rest) else { return -1 }
    let once = loaded.snapshot()
    guard let twice = try? TextDocument(replica: ReplicaID(9), snapshot: once), twice.snapshot() == once else {
      return -2
    }
    return bytes.count
  }
}
