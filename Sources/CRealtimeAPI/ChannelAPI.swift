import CRealtimeHeader
import RealtimeCore

/// A NUL-terminated UTF-8 argument, or an error naming it.
func text(_ raw: UnsafePointer<CChar>?, _ name: String) throws(RealtimeError) -> String {
  guard let raw else { throw RealtimeError(.invalidArgument, "\(name) is NULL") }
  guard let value = String(validatingCString: raw) else {
    throw RealtimeError(.invalidArgument, "\(name) is not UTF-8")
  }
  return value
}

/// Copies `value` into a fixed `char[N]` out field (a C array, imported as a tuple), cut to fit
/// and NUL-terminated.
private func copy<Field>(_ value: String, into field: inout Field) {
  withUnsafeMutableBytes(of: &field) { raw in
    let bytes = Array(value.utf8.prefix(raw.count - 1))
    raw.copyBytes(from: bytes)
    raw[bytes.count] = 0
  }
}

/// Calls a host's message callback with a message that lives for the call.
private func call(_ fn: rt_message_fn, _ userData: UnsafeMutableRawPointer?, _ message: ChannelMessage) {
  message.channel.withCString { channel in
    message.epoch.withCString { epoch in
      message.data.withUnsafeBufferPointer { data in
        var c = rt_message(
          channel: channel, channel_len: message.channel.utf8.count, epoch: epoch, offset: message.offset,
          time_ms: message.time, data: data.baseAddress, len: data.count, is_json: message.dataIsJSON ? 1 : 0)
        fn(userData, &c)
      }
    }
  }
}

private func call(_ fn: rt_receipt_fn, _ userData: UnsafeMutableRawPointer?, _ receipt: ChannelReceipt) {
  receipt.channel.withCString { channel in
    receipt.user.withCString { user in
      receipt.device.withCString { device in
        var c = rt_receipt_event(
          channel: channel, user: user, device: device, offset: receipt.offset,
          kind: receipt.kind == .read ? RT_RECEIPT_READ : RT_RECEIPT_DELIVERED)
        fn(userData, &c)
      }
    }
  }
}

private struct PresenceDiffCallback: @unchecked Sendable {
  let fn: rt_presence_diff_fn
  let userData: UnsafeMutableRawPointer?
}

private struct ReceiptCallback: @unchecked Sendable {
  let fn: rt_receipt_fn
  let userData: UnsafeMutableRawPointer?
}

/// A host's callback and user data, called on the loop thread.
private struct MessageCallback: @unchecked Sendable {
  let fn: rt_message_fn
  let userData: UnsafeMutableRawPointer?
}

private struct PublishCallback: @unchecked Sendable {
  let fn: rt_publish_fn
  let userData: UnsafeMutableRawPointer?
}

@c @implementation public func rt_namespace_config_init(_ config: UnsafeMutablePointer<rt_namespace_config>?)
  -> rt_status
{
  guard let config else { return fail(nil, .invalidArgument, "config is NULL") }
  config.pointee = rt_namespace_config()
  config.pointee.struct_size = MemoryLayout<rt_namespace_config>.size
  return RT_OK
}

@c @implementation public func rt_core_set_namespace(
  _ handle: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ config: UnsafePointer<rt_namespace_config>?
) -> rt_status {
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(handle) { () throws(RealtimeError) in
    let namespace = try text(name, "name")
    var options = NamespaceOptions()
    if let config {
      try checkStructSize(config, name: "rt_namespace_config")
      let c = config.pointee
      guard
        c.flags
          & ~(RT_NAMESPACE_IN_MEMORY | RT_NAMESPACE_NO_CLIENT_SUBSCRIBE | RT_NAMESPACE_PRESENCE
          | RT_NAMESPACE_END_TO_END)
          == 0
      else {
        throw RealtimeError(.invalidArgument, "unknown namespace flags \(c.flags)")
      }
      options.persistent = c.flags & RT_NAMESPACE_IN_MEMORY == 0
      options.clientSubscribe = c.flags & RT_NAMESPACE_NO_CLIENT_SUBSCRIBE == 0
      options.presence = c.flags & RT_NAMESPACE_PRESENCE != 0
      options.endToEnd = c.flags & RT_NAMESPACE_END_TO_END != 0
      if c.history_size != 0 { options.historySize = Int(c.history_size) }
      options.historyAgeMs = c.history_age_ms
      switch c.publish_policy {
      case RT_PUBLISH_CLIENTS: options.publish = .clients
      case RT_PUBLISH_SUBSCRIBERS: options.publish = .subscribers
      case RT_PUBLISH_SERVER: options.publish = .server
      default: throw RealtimeError(.invalidArgument, "unknown publish_policy \(c.publish_policy)")
      }
      if c.idempotency_window_ms != 0 { options.idempotencyWindowMs = c.idempotency_window_ms }
      switch c.slow_consumer {
      case RT_SLOW_CONSUMER_DISCONNECT: options.slowConsumer = .disconnect
      case RT_SLOW_CONSUMER_DROP_OLDEST: options.slowConsumer = .dropOldest
      case RT_SLOW_CONSUMER_COALESCE: options.slowConsumer = .coalesce
      default: throw RealtimeError(.invalidArgument, "unknown slow_consumer \(c.slow_consumer)")
      }
    }
    try core(handle).configure(namespace: namespace, options)
  }
}

/// Largest data one publish may carry.
private let maxPublishBytes = 1 << 20

@c @implementation public func rt_publish(
  _ handle: OpaquePointer?, _ channel: UnsafePointer<CChar>?, _ data: UnsafePointer<UInt8>?, _ len: Int,
  _ opts: UnsafePointer<rt_publish_opts>?, _ offset: UnsafeMutablePointer<UInt64>?
) -> rt_status {
  offset?.pointee = 0
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(handle) { () throws(RealtimeError) in
    let name = try text(channel, "channel")
    guard len == 0 || data != nil else { throw RealtimeError(.invalidArgument, "data is NULL") }
    guard len <= maxPublishBytes else {
      throw RealtimeError(.tooLarge, "data of \(len) bytes exceeds the \(maxPublishBytes)-byte limit")
    }
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: len)) } ?? []
    var key: String?
    var coalesceKey: String?
    var isJSON = false
    var done: PublishCallback?
    if let opts {
      try checkStructSize(opts, name: "rt_publish_opts")
      if let raw = opts.pointee.idempotency_key { key = try text(raw, "idempotency_key") }
      if let raw = opts.pointee.coalesce_key { coalesceKey = try text(raw, "coalesce_key") }
      isJSON = opts.pointee.is_json != 0
      if let fn = opts.pointee.done { done = PublishCallback(fn: fn, userData: opts.pointee.done_user_data) }
    }
    let owner = core(handle)
    if let done {
      try owner.publish(
        channel: name, data: bytes, dataIsJSON: isJSON, idempotencyKey: key, coalesceKey: coalesceKey
      ) { result in
        switch result {
        case .success(let published): done.fn(done.userData, RT_OK, published.offset)
        case .failure(let error): done.fn(done.userData, error.code.rawValue, 0)
        }
      }
      return
    }
    let published = try owner.publish(
      channel: name, data: bytes, dataIsJSON: isJSON, idempotencyKey: key, coalesceKey: coalesceKey)
    offset?.pointee = published.offset
  }
}

/// What an `rt_sub *` points to.
private final class SubHandle {
  let core: Core
  let subscription: HostSubscription
  init(core: Core, subscription: HostSubscription) {
    self.core = core
    self.subscription = subscription
  }
}

@c @implementation public func rt_subscribe(
  _ handle: OpaquePointer?, _ channel: UnsafePointer<CChar>?, _ opts: UnsafeMutablePointer<rt_subscribe_opts>?,
  _ fn: rt_message_fn?, _ userData: UnsafeMutableRawPointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> rt_status {
  out?.pointee = nil
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let fn else { return fail(handle, .invalidArgument, "fn is NULL") }
  guard let out else { return fail(handle, .invalidArgument, "out is NULL") }
  return status(handle) { () throws(RealtimeError) in
    let name = try text(channel, "channel")
    var since: (epoch: String, offset: UInt64)?
    var receipts: (@Sendable (ChannelReceipt) -> Void)?
    var presence: (@Sendable (ChannelPresence) -> Void)?
    if let opts {
      try checkStructSize(opts, name: "rt_subscribe_opts")
      if let epoch = opts.pointee.since_epoch { since = (try text(epoch, "since_epoch"), opts.pointee.since_offset) }
      if let fn = opts.pointee.on_receipt {
        let callback = ReceiptCallback(fn: fn, userData: opts.pointee.receipt_user_data)
        receipts = { call(callback.fn, callback.userData, $0) }
      }
      if let fn = opts.pointee.on_presence {
        let callback = PresenceDiffCallback(fn: fn, userData: opts.pointee.presence_user_data)
        presence = { diff in
          diff.channel.withCString { channel in
            diff.data.withUnsafeBufferPointer { callback.fn(callback.userData, channel, $0.baseAddress, $0.count) }
          }
        }
      }
    }
    let callback = MessageCallback(fn: fn, userData: userData)
    let owner = core(handle)
    let subscription = try owner.subscribe(channel: name, since: since, receipts: receipts, presence: presence) {
      message in
      call(callback.fn, callback.userData, message)
    }
    if let opts {
      copy(subscription.epoch, into: &opts.pointee.epoch)
      opts.pointee.offset = subscription.offset
      opts.pointee.recovered = subscription.recovered.map { $0 ? 1 : 0 } ?? -1
    }
    out.pointee = OpaquePointer(Unmanaged.passRetained(SubHandle(core: owner, subscription: subscription)).toOpaque())
  }
}

@c @implementation public func rt_unsubscribe(_ sub: UnsafeMutablePointer<OpaquePointer?>?) -> rt_status {
  guard let sub, let opened = sub.pointee else { return RT_OK }
  let handle = Unmanaged<SubHandle>.fromOpaque(UnsafeRawPointer(opened))
  let value = handle.takeUnretainedValue()
  let corePointer = OpaquePointer(Unmanaged.passUnretained(value.core).toOpaque())
  let result = status(corePointer) { () throws(RealtimeError) in try value.core.unsubscribe(value.subscription) }
  guard result == RT_OK else { return result }
  handle.release()
  sub.pointee = nil
  return RT_OK
}

@c @implementation public func rt_history(
  _ handle: OpaquePointer?, _ channel: UnsafePointer<CChar>?, _ opts: UnsafeMutablePointer<rt_history_opts>?,
  _ fn: rt_message_fn?, _ userData: UnsafeMutableRawPointer?
) -> rt_status {
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let fn else { return fail(handle, .invalidArgument, "fn is NULL") }
  return status(handle) { () throws(RealtimeError) in
    let name = try text(channel, "channel")
    var before: UInt64?
    var after: UInt64?
    var limit = 100
    if let opts {
      try checkStructSize(opts, name: "rt_history_opts")
      if opts.pointee.before != 0 { before = opts.pointee.before }
      if opts.pointee.after != 0 { after = opts.pointee.after }
      if opts.pointee.limit != 0 { limit = Int(opts.pointee.limit) }
    }
    let history = try core(handle).history(channel: name, before: before, after: after, limit: limit)
    if let opts {
      copy(history.epoch, into: &opts.pointee.epoch)
      opts.pointee.top = history.top
    }
    for message in history.messages { call(fn, userData, message) }
  }
}

@c @implementation public func rt_receipt(
  _ handle: OpaquePointer?, _ channel: UnsafePointer<CChar>?, _ user: UnsafePointer<CChar>?,
  _ device: UnsafePointer<CChar>?, _ offset: UInt64, _ kind: Int32
) -> rt_status {
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(handle) { () throws(RealtimeError) in
    let which: ReceiptKind
    switch kind {
    case RT_RECEIPT_DELIVERED: which = .delivered
    case RT_RECEIPT_READ: which = .read
    default: throw RealtimeError(.invalidArgument, "unknown receipt kind \(kind)")
    }
    try core(handle).receipt(
      which, channel: try text(channel, "channel"), offset: offset, user: try text(user, "user"),
      device: try text(device, "device"))
  }
}

@c @implementation public func rt_unread(
  _ handle: OpaquePointer?, _ channel: UnsafePointer<CChar>?, _ user: UnsafePointer<CChar>?,
  _ count: UnsafeMutablePointer<UInt64>?
) -> rt_status {
  count?.pointee = 0
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let count else { return fail(handle, .invalidArgument, "count is NULL") }
  return status(handle) { () throws(RealtimeError) in
    count.pointee = try core(handle).unread(channel: try text(channel, "channel"), user: try text(user, "user"))
  }
}

@c @implementation public func rt_subscribe_user(
  _ handle: OpaquePointer?, _ user: UnsafePointer<CChar>?, _ channel: UnsafePointer<CChar>?
) -> rt_status {
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(handle) { () throws(RealtimeError) in
    try core(handle).subscribeUser(try text(user, "user"), to: try text(channel, "channel"))
  }
}

@c @implementation public func rt_unsubscribe_user(
  _ handle: OpaquePointer?, _ user: UnsafePointer<CChar>?, _ channel: UnsafePointer<CChar>?
) -> rt_status {
  guard let handle else { return fail(nil, .invalidArgument, "core is NULL") }
  return status(handle) { () throws(RealtimeError) in
    try core(handle).unsubscribeUser(try text(user, "user"), from: try text(channel, "channel"))
  }
}
