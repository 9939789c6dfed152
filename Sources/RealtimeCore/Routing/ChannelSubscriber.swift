/// Receives a channel's messages: a protocol session, or a host's callback. Loop-thread only.
protocol ChannelSubscriber: AnyObject {
  /// A message, in offset order, each exactly once.
  func deliver(_ publication: Publication)
  /// Something that happened in the channel besides a message (a member's receipt).
  func deliverEvent(_ event: ChannelEvent)
}

extension ChannelSubscriber {
  func deliverEvent(_ event: ChannelEvent) {}
}

/// A channel event for its subscribers, encoded once per encoding on first use and shared.
/// Loop-thread only.
final class ChannelEvent {
  let envelope: Envelope
  /// The subscriber the event came from, which does not get it back (an identity, not a
  /// reference: a weak one would slow every retain of the subscriber).
  let origin: ObjectIdentifier?
  private var frames: [OutboundBytes?] = [nil, nil]

  init(_ envelope: Envelope, origin: AnyObject?) {
    self.envelope = envelope
    self.origin = origin.map(ObjectIdentifier.init)
  }

  func frame(_ encoding: EnvelopeEncoding) -> OutboundBytes {
    let slot = encoding == .json ? 0 : 1
    if let frame = frames[slot] { return frame }
    let frame = Publication.encodeFrame(envelope, encoding)
    frames[slot] = frame
    return frame
  }
}
