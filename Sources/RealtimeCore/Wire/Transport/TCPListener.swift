import CLibUV

/// A listening TCP socket on the loop that hands each accepted connection to the engine.
/// Loop-thread only.
final class TCPListener {
  private let handle = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
  let config: ListenConfig
  /// The port actually bound (useful when 0 asked for any free port).
  private(set) var port: Int = 0
  private let onConnection: (TCPListener, UnsafeMutablePointer<uv_stream_t>) -> Void

  /// Binds `host:port` (IPv4 or IPv6 literal) and starts listening.
  init(
    loop: UnsafeMutablePointer<uv_loop_t>, host: String, port: Int, config: ListenConfig,
    onConnection: @escaping (TCPListener, UnsafeMutablePointer<uv_stream_t>) -> Void
  ) throws(RealtimeError) {
    self.config = config
    self.onConnection = onConnection
    guard (0...65535).contains(port) else {
      handle.deallocate()
      throw RealtimeError(.invalidArgument, "port \(port) is out of range")
    }
    var storage = sockaddr_storage()
    let parsed = withUnsafeMutableBytes(of: &storage) { raw -> Bool in
      let base = raw.baseAddress
      if uv_ip4_addr(host, Int32(port), base?.assumingMemoryBound(to: sockaddr_in.self)) == 0 { return true }
      return uv_ip6_addr(host, Int32(port), base?.assumingMemoryBound(to: sockaddr_in6.self)) == 0
    }
    guard parsed else {
      handle.deallocate()
      throw RealtimeError(.invalidArgument, "host '\(host)' is not an IPv4 or IPv6 address")
    }
    uv_tcp_init(loop, handle)
    handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    let rc = withUnsafePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_bind(handle, $0, 0) }
    }
    let stream = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self)
    let listened =
      rc == 0
      ? uv_listen(stream, 511) { server, status in
        guard let server, let data = server.pointee.data, status == 0 else { return }
        let listener = Unmanaged<TCPListener>.fromOpaque(data).takeUnretainedValue()
        listener.onConnection(listener, server)
      } : rc
    guard listened == 0 else {
      close()
      throw RealtimeError(.io, "cannot listen on \(host):\(port): \(String(cString: uv_strerror(listened)))")
    }
    var bound = sockaddr_storage()
    var length = Int32(MemoryLayout<sockaddr_storage>.size)
    withUnsafeMutablePointer(to: &bound) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = uv_tcp_getsockname(handle, $0, &length) }
    }
    self.port = Int(UInt16(bigEndian: withUnsafeBytes(of: &bound) { $0.load(fromByteOffset: 2, as: UInt16.self) }))
  }

  /// Stops listening; the handle is freed once libuv has closed it.
  func close() {
    handle.pointee.data = nil
    closeAndFree(handle)
  }
}

/// The textual IP address of a connected peer, for per-IP limits and logs.
func peerAddress(of handle: UnsafeMutablePointer<uv_tcp_t>) -> String {
  var storage = sockaddr_storage()
  var length = Int32(MemoryLayout<sockaddr_storage>.size)
  let rc = withUnsafeMutablePointer(to: &storage) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getpeername(handle, $0, &length) }
  }
  guard rc == 0 else { return "unknown" }
  var name = [CChar](repeating: 0, count: 64)
  let family = Int32(storage.ss_family)
  let ok = withUnsafePointer(to: &storage) { pointer in
    name.withUnsafeMutableBufferPointer { out in
      family == AF_INET6
        ? pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { uv_ip6_name($0, out.baseAddress, out.count) }
        : pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { uv_ip4_name($0, out.baseAddress, out.count) }
    }
  }
  return ok == 0 ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown"
}
