// Two viewers in two separate headless Chromium processes watch the same video on its watch
// page: the first plays until it holds every segment, then the second plays while the first
// stays on the page to share. Prints one JSON line with what each saw: the player's P2P
// indicator and counters, the media bytes each fetched from the node (seen on the network),
// and the SHA-256 of every segment handed to hls.js.
//   node p2p-swarm.mjs WATCH_URL share|tamper
// tamper: the first viewer's browser alters every media segment it downloads (and the hash
// list it checks them against, so that it keeps and shares them), as a lying peer would.
import { createHash } from 'node:crypto';
import { launch } from './chromium.mjs';
import { playerState as player } from './player-state.mjs';

const [watchUrl, mode] = process.argv.slice(2);
if (!watchUrl || !['share', 'tamper'].includes(mode)) {
  console.error('usage: node p2p-swarm.mjs WATCH_URL share|tamper');
  process.exit(2);
}
// Chromium hides host candidates behind mDNS names that nothing resolves in a namespace.
const WEBRTC_ARGS = ['--disable-features=WebRtcHideLocalIpsWithMdns'];
const PAGE = `${watchUrl}?muted=1&autoplay=1&playbackRate=2`;
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const result = { mode, pageErrors: [] };

// Keeps a copy of every media segment hls.js receives: the player sets `.player` on its root
// element right after creating hls.js, before any segment can arrive.
function recordSegments() {
  window.handedToHls = [];
  Object.defineProperty(HTMLElement.prototype, 'player', {
    configurable: true,
    set(player) {
      Object.defineProperty(this, 'player', { value: player, configurable: true });
      player.hls?.on('hlsFragLoaded', (_, d) => {
        if (d.frag.sn === 'initSegment') return;
        const [start, end] = d.frag.byteRange;
        const bytes = new Uint8Array(d.payload.slice(0));
        let text = '';
        for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        window.handedToHls.push({ url: d.frag.url, range: `${start}-${end - 1}`, base64: btoa(text) });
      });
    },
  });
}

// Media bytes the page fetched from the node's fragmented MP4s, by Range response.
function countServerBytes(page, into) {
  page.on('requestfinished', async (req) => {
    if (!/-fragmented\.mp4$/.test(new URL(req.url()).pathname)) return;
    const resp = await req.response();
    const range = /bytes (\d+)-(\d+)\//.exec(resp?.headers()['content-range'] || '');
    // The init section (offset 0) is not a media segment.
    if (range && range[1] !== '0') into.bytes += Number(range[2]) - Number(range[1]) + 1;
  });
}

async function viewer(name) {
  const browser = await launch(WEBRTC_ARGS);
  const page = await browser.newPage();
  page.on('pageerror', (e) => result.pageErrors.push(`${name}: ${e}`));
  await page.addInitScript(recordSegments);
  const server = { bytes: 0 };
  countServerBytes(page, server);
  return { browser, page, server };
}

// Played and buffered to the end: every segment of the played level is loaded.
const loadedAll = (page) => page.waitForFunction(() => {
  const v = document.querySelector('.player video');
  return v.duration > 0 && v.buffered.length > 0
    && v.buffered.end(v.buffered.length - 1) >= v.duration - 0.5 && v.currentTime > 4;
}, null, { timeout: 120_000, polling: 500 });

// Altering the movie fragment's sequence number changes the bytes without breaking playback
// in the first viewer.
function tamper(bytes) {
  const out = Buffer.from(bytes);
  const at = out.subarray(0, 64).indexOf('mfhd');
  if (at >= 0) out[at + 11] ^= 0x5a;
  else out[out.length - 1] ^= 0x5a;
  return out;
}

async function tamperedHashes(config) {
  const shaUrl = new URL(config.segmentsSha256Url, watchUrl);
  const hashes = await (await fetch(shaUrl)).json();
  const fake = {};
  for (const [file, ranges] of Object.entries(hashes)) {
    const body = Buffer.from(await (await fetch(new URL(file, shaUrl))).arrayBuffer());
    fake[file] = {};
    for (const range of Object.keys(ranges)) {
      const [s, e] = range.split('-').map(Number);
      fake[file][range] = sha256(tamper(body.subarray(s, e + 1)));
    }
  }
  return { shaUrl, hashes, fake };
}

let first;
let second;
try {
  first = await viewer('first');
  if (mode === 'tamper') {
    const config = await (await fetch(watchUrl)).text().then((html) => {
      const m = /data-config="([^"]*)"/.exec(html);
      return JSON.parse(m[1].replace(/&quot;/g, '"').replace(/&amp;/g, '&'));
    });
    const { shaUrl, hashes, fake } = await tamperedHashes(config);
    result.tamperedSegments = Object.values(fake).reduce((n, r) => n + Object.keys(r).length, 0);
    await first.page.route((url) => url.href === shaUrl.href, (route) => route.fulfill({ json: fake }));
    await first.page.route((url) => /-fragmented\.mp4$/.test(url.pathname), async (route) => {
      const response = await route.fetch();
      let body = await response.body();
      const range = /bytes=(\d+)-(\d+)/.exec(route.request().headers().range || '');
      const file = new URL(route.request().url()).pathname.split('/').pop();
      if (range && hashes[file]?.[`${range[1]}-${range[2]}`]) body = tamper(body);
      await route.fulfill({ response, body });
    });
  }
  const t0 = Date.now();
  await first.page.goto(PAGE);
  await loadedAll(first.page);
  result.first = { ...(await player(first.page)), secondsToLoadAll: (Date.now() - t0) / 1000 };

  second = await viewer('second');
  const t1 = Date.now();
  await second.page.goto(PAGE);
  await loadedAll(second.page);
  // A moment for the last counters and indicator refresh.
  await second.page.waitForTimeout(1500);
  result.second = { ...(await player(second.page)), secondsToLoadAll: (Date.now() - t1) / 1000 };
  result.second.serverMediaBytes = second.server.bytes;
  result.second.handedToHls = (await second.page.evaluate(() => window.handedToHls)).map((s) => {
    const bytes = Buffer.from(s.base64, 'base64');
    return { file: new URL(s.url).pathname.split('/').pop(), range: s.range, bytes: bytes.length, sha256: sha256(bytes) };
  });
  result.first.afterSharing = await player(first.page);
  result.first.serverMediaBytes = first.server.bytes;
} catch (e) {
  result.error = String(e && e.stack ? e.stack : e);
  // Where each player was when it went wrong.
  for (const [name, v] of [['first', first], ['second', second]]) {
    if (v) result[`${name}AtError`] = await player(v.page).catch((err) => String(err));
  }
} finally {
  await second?.browser.close();
  await first?.browser.close();
}
console.log(JSON.stringify(result));
