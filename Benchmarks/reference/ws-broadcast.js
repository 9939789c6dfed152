// Reference fan-out peer for rt-load's subscribe scenario: a naive broadcast server on Node's
// `ws` (Debian's node-ws, /usr/share/nodejs/ws). Listens on 127.0.0.1, accepts any path,
// answers pings with pongs (ws does this by itself). The rule:
//   * a text message whose JSON "type" is "connect" or "subscribe" (checked on its first bytes:
//     {"type":"connect" / {"type":"subscribe", optional white space) is echoed to its sender
//     only: that is rt-load's connect reply and subscribe reply;
//   * every other message (text or binary) is sent to every OTHER open client, the same
//     received Buffer passed to each ws.send (ws still writes one frame header per client), in
//     the order received: there are no channels, every client gets everything;
//   * with --ack, after that loop the sender also gets {"type":"ack","id":N} when the message
//     has a numeric "id" (found by a regular expression, no JSON parse), so rt-load can pace by
//     a window of un-acked publishes; the default sends no acks (rt-load --no-acks).
// Usage: node ws-broadcast.js [PORT] [--ack]   (PORT 0 = pick one)
'use strict';
let WebSocketServer;
let WebSocket;
try {
  ({ WebSocketServer, WebSocket } = require('ws'));
} catch (e) {
  ({ WebSocketServer, WebSocket } = require('/usr/share/nodejs/ws'));
}

const args = process.argv.slice(2);
const ack = args.includes('--ack');
const port = Number(args.find((a) => !a.startsWith('--')) || 0);
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, backlog: 4096 });
const replyToSender = /^\s*\{\s*"type"\s*:\s*"(connect|subscribe)"/;
const idField = /"id"\s*:\s*(\d+)/;

wss.on('listening', () => {
  console.log(`listening on ws://127.0.0.1:${wss.address().port}/ (broadcast${ack ? ', acks' : ''})`);
});
wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    // Only the first 64 bytes are looked at, so a large message costs no string conversion.
    const head = isBinary ? '' : data.toString('utf8', 0, Math.min(data.length, 64));
    if (!isBinary && replyToSender.test(head)) {
      ws.send(data, { binary: false });
      return;
    }
    for (const client of wss.clients) {
      if (client !== ws && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
    if (ack && !isBinary) {
      const m = idField.exec(head);
      if (m) ws.send(`{"type":"ack","id":${m[1]}}`);
    }
  });
});
const stop = () => { wss.close(); process.exit(0); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
