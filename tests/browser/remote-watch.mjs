// Opens the watch page of a video that another server published and plays it past 2 s;
// reports, as one JSON line, how far it played, every request and WebSocket the page
// opened (the playlist, segments and hashes should come from the origin, and the player
// should announce to the origin's tracker), the player's P2P state, and any
// Content-Security-Policy refusal.
//   node remote-watch.mjs WATCH_URL
import { launch } from './chromium.mjs';

const [watchUrl] = process.argv.slice(2);
const result = { pageErrors: [], cspViolations: [], requests: [], sockets: [] };
const browser = await launch();
try {
  // The nodes' certificates come from a CA the test made for this run only; the check is
  // skipped in this throw-away browser context rather than trusting that CA system-wide.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) result.cspViolations.push(m.text());
  });
  page.on('request', (r) => result.requests.push(r.url()));
  page.on('websocket', (ws) => result.sockets.push(ws.url()));

  await page.goto(watchUrl);
  result.title = await page.locator('article.watch h1').innerText();
  await page.locator('.player').focus();
  await page.keyboard.press('k');
  await page.waitForFunction(() => document.querySelector('.player video').currentTime > 2, null, { timeout: 90_000 })
    .catch((e) => { result.playError = String(e); });
  result.currentTime = await page.locator('.player video').evaluate((v) => v.currentTime);
  result.p2p = await page.evaluate(() => {
    const { stats } = document.querySelector('.player').player.p2p;
    return { active: stats.active, segments: stats.segments, validated: stats.validated, rejected: stats.rejected };
  });
  result.status = await page.locator('.player-status').innerText();
} catch (e) {
  result.error = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
