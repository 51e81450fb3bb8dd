// One viewer and the P2P switch under the player, seen from the browser: which WebSockets
// the page opens to the node's tracker (playwright's `websocket` event), what the indicator
// says, and whether the video keeps playing with media from the node over HTTP. Prints one
// JSON line with what it saw in each phase:
//   on        watch page, P2P on (the default)
//   off       the viewer unticks the switch; the player rebuilds without P2P
//   reloaded  the page is loaded again: the choice is remembered
//   onAgain   the viewer ticks the switch again
//   embed     the embed with PeerTube's `p2p=0`, in the same browser profile
//   node p2p-switch.mjs WATCH_URL EMBED_URL
import { launch } from './chromium.mjs';
import { playerState } from './player-state.mjs';

const [watchUrl, embedUrl] = process.argv.slice(2);
if (!watchUrl || !embedUrl) {
  console.error('usage: node p2p-switch.mjs WATCH_URL EMBED_URL');
  process.exit(2);
}
const TRACKER_PATH = '/tracker/socket';
const result = { pageErrors: [] };
let phase = 'on';
// Tracker sockets and media segments fetched from the node, tagged with the phase they began in.
const sockets = [];
const segments = [];

function observe(page) {
  page.on('pageerror', (e) => result.pageErrors.push(`${phase}: ${e}`));
  page.on('websocket', (ws) => {
    if (new URL(ws.url()).pathname !== TRACKER_PATH) return;
    const s = { phase, url: ws.url(), closed: false };
    ws.on('close', () => { s.closed = true; });
    sockets.push(s);
  });
  page.on('requestfinished', async (req) => {
    if (!/-fragmented\.mp4$/.test(new URL(req.url()).pathname)) return;
    const resp = await req.response();
    // The init section (offset 0) is not a media segment.
    const range = /bytes (\d+)-/.exec(resp?.headers()['content-range'] || '');
    if (resp?.status() === 206 && range && range[1] !== '0') segments.push(phase);
  });
}

const socketsIn = (p) => sockets.filter((s) => s.phase === p);
const segmentsIn = (p) => segments.filter((s) => s === p).length;

// Polls a condition on this side (sockets are seen here, not in the page); false on timeout.
async function eventually(check, ms) {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return check();
}

const pageCondition = (page, f, arg, ms) => page
  .waitForFunction(f, arg, { timeout: ms, polling: 250 })
  .then(() => true, () => false);

const indicatorMatches = (page, pattern, ms = 15_000) => pageCondition(page, (src) => {
  const box = document.querySelector('.player-p2p');
  return !!box && new RegExp(src).test(box.innerText);
}, pattern.source, ms);

// Resolves once the video has moved forward by `seconds` of playback from now (seeks and
// jumps do not count), with a buffer ahead of it: it really plays. Returns how far it got.
const playsOn = (page, seconds, ms = 60_000) => page.evaluate(([want, limit]) => new Promise((resolve) => {
  const v = document.querySelector('.player video');
  let played = 0;
  let last = v.currentTime;
  const done = () => {
    v.removeEventListener('timeupdate', tick);
    clearTimeout(timer);
    resolve(played);
  };
  const tick = () => {
    const d = v.currentTime - last;
    last = v.currentTime;
    if (d > 0 && d < 2) played += d;
    if (played >= want) done();
  };
  const timer = setTimeout(done, limit);
  v.addEventListener('timeupdate', tick);
}), [seconds, ms]);

const preference = (page) => page.evaluate(() => localStorage.getItem('peerbox:p2p-enabled'));

async function snapshot(page, extra = {}) {
  return {
    ...(await playerState(page)),
    trackerSocketsOpened: socketsIn(phase).length,
    segmentsFromNode: segmentsIn(phase),
    preference: await preference(page),
    ...extra,
  };
}

let browser;
try {
  browser = await launch();
  // One profile for every phase, so that the remembered choice carries over.
  const context = await browser.newContext();
  let page = await context.newPage();
  observe(page);
  const watch = `${watchUrl}?muted=1&autoplay=1`;

  await page.goto(watch);
  const socketOpened = await eventually(() => socketsIn('on').length > 0, 30_000);
  const played = await playsOn(page, 3);
  const peersShown = await indicatorMatches(page, /\d+ peers?\b/);
  result.on = await snapshot(page, { socketOpened, played, peersShown });

  phase = 'off';
  await page.uncheck('.player-p2p-switch');
  const offShown = await indicatorMatches(page, /Peer-to-peer is off/);
  // The rebuilt player lets go of the engine, and with it the tracker connection.
  const earlierClosed = await eventually(() => sockets.every((s) => s.closed), 10_000);
  const offPlayed = await playsOn(page, 4);
  // Segments are fetched ahead of playback: the engine would have connected by now.
  await page.waitForTimeout(2000);
  result.off = await snapshot(page, { offShown, earlierClosed, played: offPlayed });

  phase = 'reloaded';
  await page.reload();
  const reloadedPlayed = await playsOn(page, 4);
  await page.waitForTimeout(2000);
  result.reloaded = await snapshot(page, {
    offShown: await indicatorMatches(page, /Peer-to-peer is off/, 1000),
    played: reloadedPlayed,
  });

  phase = 'onAgain';
  await page.check('.player-p2p-switch');
  const reconnected = await eventually(() => socketsIn('onAgain').length > 0, 30_000);
  const peersAgain = await indicatorMatches(page, /\d+ peers?\b/);
  const againPlayed = await playsOn(page, 2);
  result.onAgain = await snapshot(page, { socketOpened: reconnected, peersShown: peersAgain, played: againPlayed });
  await page.close();

  // The viewer's preference is on again here, so only the URL can turn P2P off.
  phase = 'embed';
  page = await context.newPage();
  observe(page);
  await page.goto(`${embedUrl}?p2p=0&autoplay=1&muted=1`);
  const embedPlayed = await playsOn(page, 4);
  await page.waitForTimeout(2000);
  result.embed = await snapshot(page, {
    offShown: await indicatorMatches(page, /Peer-to-peer is off in this player/, 1000),
    ipWarnings: await page.locator('.player-warning').count(),
    played: embedPlayed,
  });
} catch (e) {
  result.error = String(e && e.stack ? e.stack : e);
} finally {
  result.sockets = sockets;
  await browser?.close();
}
console.log(JSON.stringify(result));
