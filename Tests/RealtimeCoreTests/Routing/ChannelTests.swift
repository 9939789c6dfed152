import Testing

@testable import RealtimeCore

@Suite struct ChannelTests {
  private func publication(_ offset: UInt64) -> Publication {
    Publication(channel: "c", epoch: "e", offset: offset, time: offset, data: [], dataIsJSON: false)
  }

  /// Regression: once full, the ring kept appending after its first wrap, and recovery replayed
  /// messages out of order.
  @Test func theRecentRingStaysInOrderAcrossWraps() {
    let channel = Channel(name: "c", options: NamespaceOptions(), epoch: "e", top: 0, recentCapacity: 20)
    for offset in UInt64(1)...50 { channel.remember(publication(offset)) }
    #expect(channel.recentMessages.map(\.offset) == Array(31...50))
    for offset in UInt64(51)...75 {
      channel.remember(publication(offset))
      if offset == 60 { #expect(channel.recentMessages.map(\.offset) == Array(41...60)) }
    }
    #expect(channel.recentMessages.map(\.offset) == Array(56...75))
    channel.dropRecent(olderThan: 70)
    #expect(channel.recentMessages.map(\.offset) == Array(70...75))
    channel.dropRecent(olderThan: 1000)
    #expect(channel.recentMessages.map(\.offset) == [75], "the newest is always kept")
  }

  @Test func subscribersAreAddedOnceAndRemovedInAnyOrder() {
    final class Sink: ChannelSubscriber {
      var got: [UInt64] = []
      func deliver(_ publication: Publication) { got.append(publication.offset) }
    }
    let channel = Channel(name: "c", options: NamespaceOptions(), epoch: "e", top: 0, recentCapacity: 4)
    let sinks = (0..<5).map { _ in Sink() }
    for sink in sinks { #expect(channel.add(sink)) }
    #expect(!channel.add(sinks[2]))
    #expect(channel.remove(sinks[0]) && channel.remove(sinks[3]))
    #expect(!channel.remove(sinks[3]))
    channel.deliver(publication(1))
    #expect(sinks.map(\.got) == [[], [1], [1], [], [1]])
    #expect(channel.top == 1)
  }
}
