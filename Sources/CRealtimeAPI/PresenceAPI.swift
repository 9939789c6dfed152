import CRealtimeHeader
import RealtimeCore

@c @implementation public func rt_presence_set(
  _ handle: OpaquePointer?, _ channel: UnsafePointer<CChar>?, _ user: UnsafePointer<CChar>?,
  _ client: UnsafePointer<CChar>?, _ statusText: UnsafePointer<CChar>?, _ meta: UnsafePointer<UInt8>?,
  _ metaLength: Int,
  _ leaseMs: UInt64
) -> rt_status {
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(handle) { () throws(RealtimeError) in
    guard metaLength == 0 || meta != nil else { throw RealtimeError(.invalidArgument, "meta is NULL") }
    // Bounded before copying: the limit is 1 KiB.
    guard metaLength <= 1024 else {
      throw RealtimeError(.tooLarge, "presence meta of \(metaLength) bytes exceeds 1024")
    }
    let bytes = meta.map { Array(UnsafeBufferPointer(start: $0, count: metaLength)) } ?? Array("{}".utf8)
    try core(handle).setPresence(
      channel: try text(channel, "channel"), user: try text(user, "user"),
      client: try text(client, "client"), status: statusText == nil ? "online" : try text(statusText, "status"),
      meta: bytes.isEmpty ? Array("{}".utf8) : bytes, leaseMs: leaseMs)
  }
}

@c @implementation public func rt_presence_clear(
  _ handle: OpaquePointer?, _ channel: UnsafePointer<CChar>?, _ user: UnsafePointer<CChar>?,
  _ client: UnsafePointer<CChar>?
) -> rt_status {
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(handle) { () throws(RealtimeError) in
    try core(handle).clearPresence(
      channel: try text(channel, "channel"), user: try text(user, "user"),
      client: try text(client, "client"))
  }
}

@c @implementation public func rt_presence_count(
  _ handle: OpaquePointer?, _ channel: UnsafePointer<CChar>?, _ users: UnsafeMutablePointer<UInt64>?,
  _ entries: UnsafeMutablePointer<UInt64>?
) -> rt_status {
  users?.pointee = 0
  entries?.pointee = 0
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(handle) { () throws(RealtimeError) in
    let count = try core(handle).presenceCount(channel: try text(channel, "channel"))
    users?.pointee = UInt64(count.users)
    entries?.pointee = UInt64(count.entries)
  }
}

@c @implementation public func rt_presence_list(
  _ handle: OpaquePointer?, _ channel: UnsafePointer<CChar>?, _ afterUser: UnsafePointer<CChar>?,
  _ afterClient: UnsafePointer<CChar>?, _ limit: UInt32, _ fn: rt_presence_fn?, _ userData: UnsafeMutableRawPointer?,
  _ more: UnsafeMutablePointer<Int32>?
) -> rt_status {
  more?.pointee = 0
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let fn else { return fail(handle, .invalidArgument, "fn is NULL") }
  return status(handle) { () throws(RealtimeError) in
    guard (afterUser == nil) == (afterClient == nil) else {
      throw RealtimeError(.invalidArgument, "after_user and after_client go together")
    }
    var cursor: PresenceCursor?
    if afterUser != nil {
      cursor = PresenceCursor(
        user: try text(afterUser, "after_user"), client: try text(afterClient, "after_client"))
    }
    let page = try core(handle).presence(channel: try text(channel, "channel"), after: cursor, limit: Int(limit))
    for entry in page.page {
      entry.user.withCString { user in
        entry.client.withCString { client in
          entry.status.withCString { status in
            entry.meta.withUnsafeBufferPointer { meta in
              var c = rt_presence_entry(
                user: user, client: client, status: status, meta: meta.baseAddress, meta_len: meta.count)
              fn(userData, &c)
            }
          }
        }
      }
    }
    more?.pointee = page.next == nil ? 0 : 1
  }
}

@c @implementation public func rt_typing(
  _ handle: OpaquePointer?, _ channel: UnsafePointer<CChar>?, _ user: UnsafePointer<CChar>?
) -> rt_status {
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(handle) { () throws(RealtimeError) in
    try core(handle).typing(channel: try text(channel, "channel"), user: try text(user, "user"))
  }
}

@c @implementation public func rt_last_seen(
  _ handle: OpaquePointer?, _ user: UnsafePointer<CChar>?, _ online: UnsafeMutablePointer<Int32>?,
  _ timeMs: UnsafeMutablePointer<UInt64>?
) -> rt_status {
  online?.pointee = 0
  timeMs?.pointee = 0
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let online else { return fail(handle, .invalidArgument, "online is NULL") }
  return status(handle) { () throws(RealtimeError) in
    let seen = try core(handle).lastSeen(user: try text(user, "user"))
    online.pointee = seen.online ? 1 : 0
    timeMs?.pointee = seen.time ?? 0
  }
}
