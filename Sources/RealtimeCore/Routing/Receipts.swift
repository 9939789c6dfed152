/// What a receipt says: the client has received, or read, every message up to an offset.
public enum ReceiptKind: String, Sendable, Equatable {
  case delivered
  case read
}

/// One device's receipt cursors in a channel: the newest offsets delivered and read.
public struct ReceiptCursor: Sendable, Equatable {
  public var delivered: UInt64
  public var read: UInt64
}

/// Receipt cursors per channel, user and device, kept in memory for the channels in use and in
/// SQLite (`rt_receipts`, through the group-commit writer). Cursors only move forward, never past
/// the channel's newest offset, and belong to the channel's epoch: a cursor stored under another
/// epoch counts as nothing delivered or read. Loop-thread only.
final class ReceiptBook {
  private struct Key: Hashable {
    let channel: String
    let user: String
  }
  /// Per (channel, user): the channel's epoch when loaded, and each device's cursor in it. An
  /// entry of another epoch (the channel was dropped and made again) is stale and read anew.
  private var cursors: [Key: (epoch: String, devices: [String: ReceiptCursor])] = [:]
  private let store: Store
  /// Users' cursors held in memory at most; beyond, the oldest loaded are forgotten (they are
  /// stored, and read back when needed).
  private let maxEntries: Int
  private var order: [Key] = []
  private var orderHead = 0

  init(store: Store, maxEntries: Int = 100_000) {
    self.store = store
    self.maxEntries = maxEntries
  }

  /// `user`'s cursors in `channel`, by device.
  func cursors(in channel: Channel, user: String) throws(RealtimeError) -> [String: ReceiptCursor] {
    let key = Key(channel: channel.name, user: user)
    if let known = cursors[key], known.epoch == channel.epoch { return known.devices }
    let epoch = channel.epoch
    let loaded = try store.read { db throws(RealtimeError) -> [String: ReceiptCursor] in
      let stmt = try db.prepare(
        "SELECT device, epoch, delivered, read FROM rt_receipts WHERE user = ?1 AND channel = ?2")
      try stmt.bind(1, user)
      try stmt.bind(2, channel.name)
      var found: [String: ReceiptCursor] = [:]
      while try stmt.step() {
        guard stmt.text(1) == epoch else { continue }
        found[stmt.text(0)] = ReceiptCursor(
          delivered: UInt64(max(stmt.int64(2), 0)), read: UInt64(max(stmt.int64(3), 0)))
      }
      return found
    }
    remember(key, epoch: epoch, loaded)
    return loaded
  }

  /// Moves `identity`'s cursor forward to `offset` (reading implies delivery). Returns the
  /// cursor and whether it moved; a write is queued on `log` when it did.
  func mark(
    _ kind: ReceiptKind, offset: UInt64, in channel: Channel, by identity: Identity, log: DurableLog
  ) throws(RealtimeError) -> (cursor: ReceiptCursor, moved: Bool) {
    guard offset <= channel.top else {
      throw RealtimeError(
        .invalidArgument, "offset \(offset) is past the newest message of \(channel.name) (\(channel.top))")
    }
    var devices = try cursors(in: channel, user: identity.user)
    var cursor = devices[identity.device] ?? ReceiptCursor(delivered: 0, read: 0)
    let before = cursor
    cursor.delivered = max(cursor.delivered, offset)
    if kind == .read { cursor.read = max(cursor.read, offset) }
    guard cursor != before else { return (cursor, false) }
    devices[identity.device] = cursor
    cursors[Key(channel: channel.name, user: identity.user)] = (channel.epoch, devices)
    log.enqueue(
      .receipt(
        user: identity.user, channel: channel.name, device: identity.device, epoch: channel.epoch,
        delivered: Int64(clamping: cursor.delivered), read: Int64(clamping: cursor.read)))
    return (cursor, true)
  }

  /// Messages in `channel` after the newest one `user` has read on any device.
  func unread(in channel: Channel, user: String) throws(RealtimeError) -> UInt64 {
    let read = try cursors(in: channel, user: user).values.map(\.read).max() ?? 0
    return channel.top > read ? channel.top - read : 0
  }

  private func remember(_ key: Key, epoch: String, _ devices: [String: ReceiptCursor]) {
    cursors[key] = (epoch, devices)
    order.append(key)
    while cursors.count > maxEntries && orderHead < order.count {
      cursors[order[orderHead]] = nil
      orderHead += 1
    }
    if orderHead > 1024 && orderHead * 2 > order.count {
      order.removeFirst(orderHead)
      orderHead = 0
    }
  }
}
