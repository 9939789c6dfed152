/// One message of a channel, as delivered: created once per publish and shared by every
/// subscriber, the history ring and the publisher's acknowledgement. Its `message` frame is
/// encoded once per encoding, on first use, and every subscriber's socket writes that one buffer.
/// Loop-thread only.
final class Publication {
  let channel: String
  let epoch: String
  let offset: UInt64
  /// Publish time, ms since 1970.
  let time: UInt64
  let data: [UInt8]
  let dataIsJSON: Bool
  /// The channel's policy for subscribers that fall behind.
  let slowConsumer: SlowConsumerPolicy
  /// The publisher's coalescing key (live deliveries only: history does not keep it).
  let coalesceKey: String?
  private var jsonFrame: OutboundBytes?
  private var binaryFrame: OutboundBytes?
  private var jsonBody: OutboundBytes?
  private var binaryEntry: OutboundBytes?

  init(
    channel: String, epoch: String, offset: UInt64, time: UInt64, data: [UInt8], dataIsJSON: Bool,
    slowConsumer: SlowConsumerPolicy = .disconnect, coalesceKey: String? = nil
  ) {
    self.slowConsumer = slowConsumer
    self.coalesceKey = coalesceKey
    self.channel = channel
    self.epoch = epoch
    self.offset = offset
    self.time = time
    self.data = data
    self.dataIsJSON = dataIsJSON
  }

  /// The `message` envelope (without the epoch, which `subscribed` and `history`'s `ack` carry);
  /// `id` set when it answers a `history` request.
  func envelope(id: UInt64? = nil) -> Envelope {
    var envelope = Envelope(.message, id: id)
    envelope.channel = channel
    // No epoch: it is the channel's, given by `subscribed` and by the `ack` that ends a
    // `history` answer, so every delivery is 27 bytes lighter.
    envelope.offset = offset
    envelope.time = time
    envelope.data = data[...]
    envelope.dataIsJSON = dataIsJSON
    // Live messages only: stored history has no key, so history answers never carry one.
    if id == nil { envelope.key = coalesceKey }
    return envelope
  }

  /// The complete WebSocket frame of the live `message`, encoded on first use.
  func frame(_ encoding: EnvelopeEncoding) -> OutboundBytes {
    switch encoding {
    case .json:
      if let jsonFrame { return jsonFrame }
      let frame = Publication.encodeFrame(envelope(), .json)
      jsonFrame = frame
      return frame
    case .binary:
      if let binaryFrame { return binaryFrame }
      let frame = Publication.encodeFrame(envelope(), .binary)
      binaryFrame = frame
      return frame
    }
  }

  /// The message as an element of a batch frame, encoded on first use: in JSON the message
  /// object, in binary its length (varint) and bytes.
  func batchEntry(_ encoding: EnvelopeEncoding) -> OutboundBytes {
    switch encoding {
    case .json:
      if let jsonBody { return jsonBody }
      let body = OutboundBytes(EnvelopeWriter.json(envelope()))
      jsonBody = body
      return body
    case .binary:
      if let binaryEntry { return binaryEntry }
      let message = EnvelopeWriter.binary(envelope())
      var entry: [UInt8] = []
      EnvelopeWriter.appendVarint(UInt64(message.count), to: &entry)
      entry += message
      let bytes = OutboundBytes(entry)
      binaryEntry = bytes
      return bytes
    }
  }

  static func encodeFrame(_ envelope: Envelope, _ encoding: EnvelopeEncoding) -> OutboundBytes {
    EnvelopeWriter.encode(envelope, as: encoding).withUnsafeBytes {
      FrameEncoder.encoded(encoding == .json ? .text : .binary, $0)
    }
  }
}
