// One bittorrent-tracker Client in a process of its own, as one viewer's browser would be
// (clients in one process share a WebSocket per tracker URL, which would make them one
// connection to the tracker). Driven by its parent over IPC; see lib.mjs.
//   options (argv[2], JSON): { announce, infoHash, peerId, port, localAddress }
//   commands: { cmd: 'start' | 'update' | 'complete' | 'stop' | 'scrape', opts }
//   reports:  { event: 'update' | 'peer' | 'scrape' | 'warning' | 'error', data }
import http from 'node:http';
import Client from 'bittorrent-tracker/client';

const options = JSON.parse(process.argv[2]);
const agent = options.localAddress ? new http.Agent({ localAddress: options.localAddress }) : undefined;
const client = new Client({
  announce: [options.announce],
  infoHash: options.infoHash,
  peerId: options.peerId,
  port: options.port ?? 6881,
  proxyOpts: agent ? { httpAgent: agent } : undefined,
});

const report = (event, data) => process.send({ event, data });
client.on('update', (d) => report('update', { complete: d.complete, incomplete: d.incomplete, interval: d.interval }));
// A WebSocket peer is a simple-peer object named by the remote peer id; an HTTP one is "ip:port".
client.on('peer', (p) => report('peer', typeof p === 'string' ? p : p.id));
client.on('scrape', (d) => report('scrape', { complete: d.complete, incomplete: d.incomplete, downloaded: d.downloaded }));
client.on('warning', (e) => report('warning', e.message));
client.on('error', (e) => report('error', e.message));

process.on('message', ({ cmd, opts }) => {
  client[cmd](opts ?? {});
});
process.on('disconnect', () => process.exit(0));
