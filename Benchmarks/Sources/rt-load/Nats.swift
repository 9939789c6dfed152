// --protocol nats: NATS core's client protocol over nats-server's WebSocket listener, so the
// subscribe scenario can measure nats-server as a third peer. The protocol is a byte stream of
// CRLF-terminated lines (MSG is followed by its payload and CRLF); WebSocket frames do not align
// with it, so every client keeps what it has not parsed yet. rt-load's frames are binary.
//
//   connect    CONNECT {...} + PING; established at the PONG (INFO, sent first, is skipped)
//   subscribe  SUB <channel> 1 + PING; subscribed at the PONG
//   publish    PUB <channel> <bytes> + the data {"t":T,"n":N}; with acks, + PING: NATS answers
//              in order, after the PUB has been handed to every subscriber, so the PONG is its ack
//   deliver    MSG <channel> 1 <bytes> + the data
// The server's PINGs are answered with PONG; -ERR fails the connect or subscribe it answers, or
// is counted.
import CUVBench
import Foundation

let natsConnect = Array(
  "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"echo\":false,\"name\":\"rt-load\"}\r\nPING\r\n".utf8)

func natsSubscribe(channel: [UInt8]) -> [UInt8] { Array("SUB ".utf8) + channel + Array(" 1\r\nPING\r\n".utf8) }

func natsPublish(channel: [UInt8], data: [UInt8], ping: Bool) -> [UInt8] {
  var out = Array("PUB ".utf8)
  out.reserveCapacity(24 + channel.count + data.count)
  out += channel
  out += " \(data.count)\r\n".utf8
  out += data
  out += (ping ? "\r\nPING\r\n" : "\r\n").utf8
  return out
}

private let natsPong = Array("PONG\r\n".utf8)

extension Runner {
  /// The payload of a data frame from nats-server: more of the protocol stream.
  func natsData(_ client: Client, _ payload: UnsafeBufferPointer<UInt8>) {
    client.natsBuffer.append(contentsOf: payload)
    var bytes: [UInt8] = []
    swap(&bytes, &client.natsBuffer)
    let consumed = bytes.withUnsafeBufferPointer { natsLines(client, $0) }
    guard client.state == .greeting || client.state == .open else { return }
    bytes.removeSubrange(0..<consumed)
    if bytes.count > 2 * maxServerMessageBytes {
      return protocolError(client, "NATS: \(bytes.count) bytes without a complete line")
    }
    client.natsBuffer = bytes
  }

  /// Handles every complete line (and MSG with its payload) in `p`; returns the bytes used.
  func natsLines(_ client: Client, _ p: UnsafeBufferPointer<UInt8>) -> Int {
    var at = 0
    while client.state == .greeting || client.state == .open {
      var cr = at
      while cr + 1 < p.count && !(p[cr] == 13 && p[cr + 1] == 10) { cr += 1 }
      guard cr + 1 < p.count else { break }
      let line = UnsafeBufferPointer(rebasing: p[at..<cr])
      if line.starts(with: "MSG ".utf8) {
        // MSG <subject> <sid> [reply-to] <#bytes>
        var i = cr
        while i > at && p[i - 1] >= 0x30 && p[i - 1] <= 0x39 { i -= 1 }
        guard let size = unsignedValue(p, i, end: cr) else {
          protocolError(client, "NATS: bad MSG line")
          return at
        }
        let start = cr + 2
        let end = start + Int(size)
        guard end + 2 <= p.count else { break }  // the payload is not all here yet
        natsMessage(client, p, start..<end, wireBytes: end + 2 - at)
        at = end + 2
        continue
      }
      at = cr + 2
      if line.elementsEqual("PONG".utf8) {
        natsPongReceived(client)
      } else if line.elementsEqual("PING".utf8) {
        serverPings += 1
        send(client, maskedFrame(opcode: 0x2, payload: natsPong))
      } else if line.starts(with: "-ERR".utf8) {
        natsError(client, String(decoding: line.prefix(200), as: UTF8.self))
      } else if line.starts(with: "INFO".utf8) || line.elementsEqual("+OK".utf8) {
        continue
      } else {
        serverDataFrames += 1
      }
    }
    return at
  }

  func natsPongReceived(_ client: Client) {
    if client.state == .greeting {
      connectReplies.record(readNs - client.greetingSentAt)
      opened(client)
    } else if client.subscribePending {
      subscribeAccepted(client, offset: nil)
    } else if client.isPublisher && fan.acks && fan.unacked > 0 {
      // PONGs come in the order of the PINGs, one after each PUB: the oldest un-acked publish.
      let id = fan.acked + fan.errors + 1
      if id <= fan.sent && fan.sendTimes[id] != 0 {
        fan.ackLatency.record(readNs - fan.sendTimes[id])
        fan.sendTimes[id] = 0
        fan.acked += 1
        fan.unacked -= 1
        fan.lastAckNs = readNs
      }
      afterPublisherReplies()
    }
  }

  func natsError(_ client: Client, _ line: String) {
    if client.state == .greeting {
      fail(client, "connect reply \(line)")
    } else if client.subscribePending {
      subscribeRefused(client, "subscribe reply \(line)", detail: line)
    } else if client.isPublisher {
      fan.failures["publisher got \(line)", default: 0] += 1
      log("publisher: \(line)")
    } else {
      fan.subscriberErrors[line, default: 0] += 1
      if fan.subscriberErrors.values.reduce(0, +) <= 5 { log("client \(client.index): \(line)") }
    }
  }

  func natsMessage(_ client: Client, _ p: UnsafeBufferPointer<UInt8>, _ data: Range<Int>, wireBytes: Int) {
    guard scenario == .subscribe, client.subscribed, !data.isEmpty, p[data.lowerBound] == UInt8(ascii: "{")
    else {
      if client.subscribed { fan.unparsable += 1 } else { serverDataFrames += 1 }
      return
    }
    if fan.deliveryMessageBytes == 0 { fan.deliveryMessageBytes = wireBytes }
    delivered(client, p, data: data, offset: nil)
    checkAllDelivered()
  }
}
