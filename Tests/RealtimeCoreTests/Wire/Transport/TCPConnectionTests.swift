import Foundation
import Testing

@testable import RealtimeCore

@Suite struct TCPConnectionTests {
  /// Opens a loopback client, completes the WebSocket handshake and returns the socket.
  private func connectClient(port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    try #require(fd >= 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    try #require(connected == 0)
    let request = Array(
      ("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8)
    _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    var answer = [UInt8](repeating: 0, count: 512)
    let n = answer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    try #require(n > 0)
    #expect(String(decoding: answer[0..<n], as: UTF8.self).hasPrefix("HTTP/1.1 101 "))
    return fd
  }

  /// Regression: a connection closing in the same loop turn as the engine's shutdown used to be
  /// freed by the shutdown while libuv's close callback still pointed at it.
  @Test func aConnectionClosingAsTheEngineShutsDownOutlivesItsCloseCallback() throws {
    let core = try Core(config: CoreConfig())
    try core.start()
    let port = try core.listen(host: "127.0.0.1", port: 0)
    let clients = try (0..<16).map { _ in try connectClient(port: port) }
    defer { for fd in clients { close(fd) } }

    let counted = Collector<Int>()
    let done = Countdown(1)
    try core.post {
      counted.add(core.engine.connectionCount)
      // Close every connection (their close callbacks run next turn), then shut down at once.
      for connection in core.engine.tcpConnections { connection.closeNow() }
      core.engine.shutdown()
      done.tick()
    }
    done.wait()
    try core.stop()  // the loop ran the close callbacks and ended
    #expect(counted.all == [16])
    try core.start()  // and the engine starts cleanly again
    #expect(try core.listen(host: "127.0.0.1", port: 0) > 0)
    try core.close()
  }
}
