// Serves a page on another origin (this script's own HTTP server on another port) that
// frames the node's embed with PeerTube's URL parameters, and plays it; the same page
// also tries to frame the watch page, which the node forbids.
//   node web-embed.mjs BASE_URL VIDEO_UUID WATCH_PATH
import http from 'node:http';
import { launch } from './chromium.mjs';

const [base, uuid, watchPath] = process.argv.slice(2);
const embedUrl = `${base}/videos/embed/${uuid}?autoplay=1&muted=1&start=1&warningTitle=0`;
const html = `<!doctype html><title>A school blog</title>
<h1>Our film</h1>
<iframe id="embed" width="560" height="315" allow="autoplay; fullscreen"
  sandbox="allow-same-origin allow-scripts allow-popups allow-forms" src="${embedUrl}"></iframe>
<iframe id="watch" width="560" height="315" src="${base}${watchPath}"></iframe>`;
const server = http.createServer((_, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(html);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const blog = `http://127.0.0.1:${server.address().port}/`;

const result = { blog, pageErrors: [] };
const browser = await launch();
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));
  await page.goto(blog);
  const embed = page.frameLocator('#embed');
  result.embedTitle = await embed.locator('.embed-title a').innerText({ timeout: 30_000 });
  result.warningShown = await embed.locator('.player-warning').count();
  const frame = page.frames().find((f) => f.url().startsWith(`${base}/videos/embed/`));
  await frame.waitForFunction(() => document.querySelector('video').currentTime > 3, null, { timeout: 90_000 })
    .catch((e) => { result.playError = String(e); });
  result.currentTime = await frame.evaluate(() => document.querySelector('video').currentTime);
  result.muted = await frame.evaluate(() => document.querySelector('video').muted);
  // A framed watch page stays empty: the browser refuses to show it.
  const watchFrame = page.frames().find((f) => f !== frame && f !== page.mainFrame());
  result.watchFrameText = watchFrame
    ? await watchFrame.evaluate(() => (document.body ? document.body.innerText : '')).catch(() => '')
    : '';
} catch (e) {
  result.error = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
  server.close();
}
console.log(JSON.stringify(result));
