// Reference peer for rt-load: a minimal WebSocket server on Node's `ws` (Debian's node-ws,
// /usr/share/nodejs/ws). Listens on 127.0.0.1, accepts any path, answers pings with pongs
// (ws does this by itself) and echoes every message back unchanged (same data, same text or
// binary flag): rt-load's connect message gets its echo as the reply, and each echo-scenario
// {"type":"ping",...} message comes back as it was sent. No application protocol beyond that.
// Usage: node ws-server.js [PORT]   (0 = pick one)
'use strict';
let WebSocketServer;
try {
  ({ WebSocketServer } = require('ws'));
} catch (e) {
  ({ WebSocketServer } = require('/usr/share/nodejs/ws'));
}

const port = Number(process.argv[2] || 0);
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, backlog: 4096 });
wss.on('listening', () => {
  console.log(`listening on ws://127.0.0.1:${wss.address().port}/`);
});
wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
const stop = () => { wss.close(); process.exit(0); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
