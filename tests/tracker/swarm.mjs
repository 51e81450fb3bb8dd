// Real bittorrent-tracker clients in one swarm of a node's tracker, over the WebSocket and
// the HTTP announce paths. Prints one JSON report of what the clients saw; the Rust test
// (tests/tracker_clients.rs) says what it must be.
//   node tracker/swarm.mjs BASE_URL MASTER_PLAYLIST_URL
import { Peer, hex, hlsInfoHash } from './lib.mjs';

const [base, master] = process.argv.slice(2);
const infoHash = hlsInfoHash(master);
const ws = `${base.replace(/^http/, 'ws')}/tracker/socket`;
const httpAnnounce = `${base}/tracker/announce`;
const peers = [];
const peer = (options) => {
  const p = new Peer({ infoHash, ...options });
  peers.push(p);
  return p;
};
const report = { ws: {}, http: {} };

try {
  // WebSocket: B's offer reaches A, A's answer reaches B; each client names the other.
  const a = peer({ announce: ws });
  const b = peer({ announce: ws });
  report.ws.ids = { a: a.peerId, b: b.peerId };
  report.ws.aFirst = await a.do('start').next('update');
  report.ws.bFirst = await b.do('start').next('update');
  report.ws.aMetThrough = await a.next('peer');
  report.ws.bMetThrough = await b.next('peer');

  // B finishes and seeds; a third peer C joins; scrape counts from A.
  report.ws.bCompleted = await b.do('complete', { left: 0 }).next('update');
  const c = peer({ announce: ws });
  report.ws.ids.c = c.peerId;
  report.ws.cFirst = await c.do('start').next('update');
  report.ws.scrapeAll = await a.do('scrape').next('scrape');
  // B stops: gone at once. C's process dies: its closed socket is an implicit stop.
  b.do('stop');
  await c.kill();
  await new Promise((r) => setTimeout(r, 300));
  report.ws.scrapeAfterLeaving = await a.do('scrape').next('scrape');
  // A alone now: an update finds nobody to send offers to.
  report.ws.aAlone = await a.do('update').next('update');
  report.ws.warnings = [a, b].flatMap((p) => p.events.filter((e) => e.event !== 'update' && e.event !== 'peer' && e.event !== 'scrape'));
  a.do('stop');
  await a.next('update', () => true, 500);

  // An infohash the node does not serve.
  const stranger = peer({ announce: ws, infoHash: hex() });
  report.ws.unknown = await stranger.do('start').next('warning');

  // HTTP: compact peer lists name each other's announced ports.
  const h1 = peer({ announce: httpAnnounce, port: 6881 });
  const h2 = peer({ announce: httpAnnounce, port: 6882 });
  report.http.h1First = await h1.do('start').next('update');
  report.http.h2First = await h2.do('start').next('update');
  report.http.h2Peer = await h2.next('peer');
  report.http.h1Peer = await h1.do('update').next('peer');
  report.http.h2Completed = await h2.do('complete', { left: 0 }).next('update');
  report.http.scrapeAll = await h1.do('scrape').next('scrape');
  report.http.h2Stopped = await h2.do('stop').next('update');
  report.http.scrapeAfterStop = await h1.do('scrape').next('scrape');
  const httpStranger = peer({ announce: httpAnnounce, infoHash: hex(), port: 6883 });
  report.http.unknown = await httpStranger.do('start').next('warning');
} finally {
  for (const p of peers) p.child.kill('SIGKILL');
}
console.log(JSON.stringify(report));
