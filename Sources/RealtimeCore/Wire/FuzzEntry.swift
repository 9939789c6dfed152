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
}
