/// Receives a channel's messages: a protocol session, or a host's callback. Loop-thread only.
protocol ChannelSubscriber: AnyObject {
  /// A message, in offset order, each exactly once.
  func deliver(_ publication: Publication)
}
