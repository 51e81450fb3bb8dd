// Signs in on the web pages, uploads a clip through the upload page while the connection
// drops once (the second chunk is cut off), and follows the video on "My videos" until
// it is published. Prints one JSON line with what the user saw.
//   node web-upload.mjs BASE_URL USERNAME PASSWORD CLIP TITLE SCREENSHOT_DIR
import { launch } from './chromium.mjs';

const [base, username, password, clip, title, shots] = process.argv.slice(2);
const result = { pageErrors: [], progress: [] };
const browser = await launch();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));

  await page.goto(`${base}/login?redirect=/videos/upload`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/videos/upload`);
  result.header = await page.locator('header.site nav').innerText();

  // The second chunk never arrives: the page must notice, ask the node what it has and go on.
  let chunks = 0;
  result.dropped = false;
  await page.route('**/api/v1/videos/upload-resumable?*', (route) => {
    const range = route.request().headers()['content-range'] || '';
    if (route.request().method() === 'PUT' && !range.startsWith('bytes */')) {
      chunks += 1;
      if (chunks === 2 && !result.dropped) {
        result.dropped = true;
        return route.abort('connectionreset');
      }
    }
    return route.continue();
  });
  await page.evaluate(() => {
    window.peerboxProgress = [];
    window.peerboxMessages = [];
    const bar = document.getElementById('upload-progress');
    const message = document.getElementById('upload-message');
    new MutationObserver(() => window.peerboxProgress.push(bar.value)).observe(bar, { attributes: true });
    new MutationObserver(() => window.peerboxMessages.push(message.textContent)).observe(message, { childList: true, characterData: true, subtree: true });
  });

  await page.setInputFiles('#videofile', clip);
  await page.fill('#name', title);
  await page.fill('#description', 'Uploaded from the **browser** test.');
  await page.fill('#tags', 'browser, peerbox');
  await page.screenshot({ path: `${shots}/upload-desktop.png`, fullPage: true });
  await page.getByRole('button', { name: 'Upload', exact: true }).click();
  await page.locator('#upload-done').waitFor({ state: 'visible', timeout: 180_000 });
  result.progress = await page.evaluate(() => window.peerboxProgress);
  result.messages = await page.evaluate(() => window.peerboxMessages);
  result.finalPercentText = await page.locator('#upload-percent').innerText();
  result.finalBarValue = await page.locator('#upload-progress').evaluate((b) => b.value);
  result.chunks = chunks;
  result.watchHref = await page.locator('#upload-done .watch-link').getAttribute('href');
  await page.screenshot({ path: `${shots}/upload-done-desktop.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${shots}/upload-done-phone.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  // My videos follows processing without a reload.
  await page.goto(`${base}/my-library/videos`);
  const row = page.locator('#my-videos li', { hasText: title });
  result.firstState = await row.locator('.video-state').innerText();
  result.statesSeen = [result.firstState];
  const deadline = Date.now() + 300_000;
  for (;;) {
    const state = await row.locator('.video-state').innerText();
    if (state !== result.statesSeen[result.statesSeen.length - 1]) result.statesSeen.push(state);
    if (state === 'Published' || state === 'Transcoding failed' || Date.now() > deadline) break;
    await page.waitForTimeout(500);
  }
  result.finalState = await row.locator('.video-state').innerText();
  await page.waitForTimeout(300);
  result.thumbnailShown = await row.locator('a.thumb img').evaluate((i) => i.complete && i.naturalWidth > 0).catch(() => false);
  await page.screenshot({ path: `${shots}/my-videos-desktop.png`, fullPage: true });
} catch (e) {
  result.error = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
