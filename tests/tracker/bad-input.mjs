// Input no real client sends, thrown at a node's tracker while two real bittorrent-tracker
// clients (A and B) share a swarm: malformed and oversized WebSocket frames, answers to a
// peer that left, an announce flood from one address, a swarm filled past its cap, garbage
// on the HTTP announce. Prints one JSON report of what each side saw; the Rust test
// (tests/tracker_clients.rs) says what it must be. Other loopback addresses stand for other
// machines.
//   node tracker/bad-input.mjs BASE_URL MASTER_PLAYLIST_URL FLOOD_COUNT SWARM_FILL
import { Peer, binary, closeCode, hex, hlsInfoHash, rawSocket, reply } from './lib.mjs';

const [base, master, floodCount, swarmFill] = process.argv.slice(2);
const infoHash = hlsInfoHash(master);
const ws = `${base.replace(/^http/, 'ws')}/tracker/socket`;
const peers = [];
const peer = (options) => {
  const p = new Peer({ announce: ws, infoHash, ...options });
  peers.push(p);
  return p;
};
const announce = (peerId, extra = {}) =>
  JSON.stringify({ action: 'announce', info_hash: binary(infoHash), peer_id: binary(peerId), numwant: 0, offers: [], ...extra });
const scrape = JSON.stringify({ action: 'scrape', info_hash: [binary(infoHash)] });
const report = {};

/** Whether A still hears of B: B announces again, A must get B's offer. */
async function aStillMeetsB(a, b) {
  b.do('update');
  return (await a.next('peer', (id) => id === b.peerId)) !== null;
}

try {
  const a = peer({});
  const b = peer({});
  await a.do('start').next('update');
  await b.do('start').next('update');
  report.metBefore = (await a.next('peer', (id) => id === b.peerId)) !== null;

  // Malformed messages get a failure reason and the socket stays usable.
  const m = await rawSocket(ws, '127.0.0.5');
  report.malformed = {};
  for (const [name, text] of Object.entries({
    notJson: 'hello tracker',
    notAnObject: '[1,2,3]',
    deepNesting: '['.repeat(20000) + ']'.repeat(20000),
    shortInfoHash: JSON.stringify({ action: 'announce', info_hash: 'abc', peer_id: binary(hex()) }),
    wideChars: JSON.stringify({ action: 'announce', info_hash: '€'.repeat(20), peer_id: binary(hex()) }),
    numberPeerId: JSON.stringify({ action: 'announce', info_hash: binary(infoHash), peer_id: 42 }),
    offersNotAList: announce(hex(), { offers: 'many' }),
    answerWithoutTarget: announce(hex(), { answer: { type: 'answer', sdp: 'x' } }),
    unknownAction: JSON.stringify({ action: 'dance' }),
  })) {
    m.send(text);
    report.malformed[name] = (await reply(m))?.['failure reason'] ?? null;
  }
  m.send(Buffer.from([0, 1, 2, 3]), { binary: true });
  m.send(scrape);
  report.afterBinaryFrame = (await reply(m))?.action ?? null;

  // Frames that break the WebSocket rules or the size limit end that connection only.
  report.closed = {};
  const invalidUtf8 = await rawSocket(ws, '127.0.0.5');
  invalidUtf8.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
  report.closed.invalidUtf8 = await closeCode(invalidUtf8);
  const bigFrame = await rawSocket(ws, '127.0.0.5');
  bigFrame.send(announce(hex(), { offers: [{ offer_id: binary(hex()), offer: { sdp: 'x'.repeat(200_000) } }] }));
  report.closed.oversizedFrame = await closeCode(bigFrame);
  const bigMessage = await rawSocket(ws, '127.0.0.5');
  for (let i = 0; i < 20; i++) bigMessage.send('x'.repeat(8000), { fin: false });
  bigMessage.send('x', { fin: true });
  report.closed.oversizedFragmentedMessage = await closeCode(bigMessage);
  report.metAfterBadFrames = await aStillMeetsB(a, b);

  // An answer for a peer that left is dropped quietly; the sender can go on.
  const c = peer({});
  await c.do('start').next('update');
  await c.kill();
  await new Promise((r) => setTimeout(r, 300));
  m.send(announce(hex(), { to_peer_id: binary(c.peerId), offer_id: binary(hex()), answer: { type: 'answer', sdp: 'late' } }));
  report.answerToLeftPeer = await reply(m, 500);
  m.send(scrape);
  report.scrapeAfterLateAnswer = (await reply(m))?.files?.[binary(infoHash)] ?? null;

  // An announce flood from one address: past the per-address limit it is refused, while
  // a client on another address and the swarm's members carry on.
  const flood = await rawSocket(ws, '127.0.0.2');
  const flooder = hex();
  report.flood = { accepted: 0, refused: 0, other: [] };
  for (let i = 0; i < Number(floodCount); i++) {
    flood.send(announce(flooder));
    const r = await reply(flood);
    if (r && r['failure reason'] === undefined && r.action === 'announce') report.flood.accepted++;
    else if (r?.['failure reason'] === 'too many announces') report.flood.refused++;
    else report.flood.other.push(r);
  }
  const elsewhere = peer({ localAddress: '127.0.0.3' });
  report.flood.otherAddress = await elsewhere.do('start').next('update');
  report.flood.otherAddressWarnings = elsewhere.events.filter((e) => e.event === 'warning').map((e) => e.data);
  report.metAfterFlood = await aStillMeetsB(a, b);

  // Filling the swarm from one connection: past the cap, newcomers are refused.
  const filler = await rawSocket(ws, '127.0.0.4');
  report.fill = { accepted: 0, refused: 0, other: [] };
  for (let i = 0; i < Number(swarmFill); i++) {
    filler.send(announce(hex()));
    const r = await reply(filler);
    if (r && r['failure reason'] === undefined) report.fill.accepted++;
    else if (r?.['failure reason'] === 'swarm is full') report.fill.refused++;
    else report.fill.other.push(r);
  }
  report.fill.scrapeFull = await a.do('scrape').next('scrape');
  const late = peer({ localAddress: '127.0.0.6' });
  report.fill.latecomer = await late.do('start').next('warning');
  // Members are not newcomers: A's announce is still taken.
  report.fill.memberUpdate = await a.do('update', { numwant: 0 }).next('update');
  filler.close();
  await filler.closed;
  await new Promise((r) => setTimeout(r, 300));
  report.fill.scrapeAfterClose = await a.do('scrape').next('scrape');

  // Garbage on the HTTP announce and scrape: a bencoded failure reason (or an HTTP error),
  // and the tracker still answers a real HTTP client afterwards.
  report.http = {};
  const enc = (h) => h.replace(/../g, '%$&');
  for (const [name, query] of Object.entries({
    empty: '',
    noPort: `info_hash=${enc(infoHash)}&peer_id=${enc(hex())}`,
    portTooBig: `info_hash=${enc(infoHash)}&peer_id=${enc(hex())}&port=70000`,
    shortInfoHash: `info_hash=%01%02&peer_id=${enc(hex())}&port=1`,
    longPeerId: `info_hash=${enc(infoHash)}&peer_id=${enc(hex(40))}&port=1`,
    brokenEscapes: '%%%&&==&info_hash=%zz',
    unknownInfoHash: `info_hash=${enc(hex())}&peer_id=${enc(hex())}&port=1`,
    hugeQuery: `info_hash=${enc(infoHash)}&junk=${'a'.repeat(200_000)}`,
  })) {
    const res = await fetch(`${base}/tracker/announce?${query}`).catch((e) => ({ status: `error: ${e.cause?.code ?? e.message}` }));
    const body = res.arrayBuffer ? Buffer.from(await res.arrayBuffer()).toString('latin1') : '';
    report.http[name] = { status: res.status, failure: /failure reason(\d+):/.test(body) ? body.replace(/^d14:failure reason\d+:(.*)e$/, '$1') : body.slice(0, 80) };
  }
  const scrapeGarbage = await fetch(`${base}/tracker/scrape?info_hash=%00&info_hash=${'%ff'.repeat(300)}`);
  report.http.scrapeGarbage = { status: scrapeGarbage.status, body: Buffer.from(await scrapeGarbage.arrayBuffer()).toString('latin1') };
  const h = peer({ announce: `${base}/tracker/announce`, port: 7001 });
  report.http.realClientAfter = await h.do('start').next('update');
  report.metAtEnd = await aStillMeetsB(a, b);
  report.unexpected = [a, b].flatMap((p) => p.events.filter((e) => e.event === 'warning' || e.event === 'error'));
} finally {
  for (const p of peers) p.child.kill('SIGKILL');
}
console.log(JSON.stringify(report));
process.exit(0);
