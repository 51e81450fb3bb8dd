// PeerTube's WebSocket tracker as PeerTube v8 wires it (server/core/controllers/tracker.ts):
// @peertube/bittorrent-tracker-server with its own listeners off, a `ws` WebSocketServer in
// noServer mode taking upgrades on /tracker/socket (and on /, which is where
// aquatic_ws_load_test connects), and PeerTube's filter with the
// configuration a load test needs (tracker.private false, reject_too_many_announces false;
// the per-address counters PeerTube keeps are still kept). One difference: TLS is
// terminated by this process's https server, as the other trackers in the benchmark do it
// themselves, rather than by a reverse proxy.
//   node server.mjs PORT CERT_PEM KEY_PEM
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { Server as TrackerServer } from '@peertube/bittorrent-tracker-server';
import { WebSocketServer } from 'ws';

const [port, cert, key] = process.argv.slice(2);

let peersIps = {};
let peersIpInfoHash = {};
setInterval(() => {
  peersIps = {};
  peersIpInfoHash = {};
}, 5 * 60 * 1000);

const trackerServer = new TrackerServer({
  http: false,
  udp: false,
  ws: false,
  filter(infoHash, params, cb) {
    const ip = params.type === 'ws' ? params.ip : params.httpReq.ip;
    const k = `${ip}-${infoHash}`;
    peersIps[ip] = peersIps[ip] ? peersIps[ip] + 1 : 1;
    peersIpInfoHash[k] = peersIpInfoHash[k] ? peersIpInfoHash[k] + 1 : 1;
    cb();
  },
});
trackerServer.on('error', () => {});
trackerServer.on('warning', () => {});

const server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (req, res) => {
  res.writeHead(404).end();
});
const wss = new WebSocketServer({ noServer: true });
wss.on('connection', (ws, req) => {
  ws.ip = req.socket.remoteAddress;
  trackerServer.onWebSocketConnection(ws);
});
server.on('upgrade', (request, socket, head) => {
  if (request.url === '/tracker/socket' || request.url === '/') {
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  }
});
server.listen(Number(port), '127.0.0.1');
