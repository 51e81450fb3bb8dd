// Opens a watch page, starts the player with its keyboard shortcut and plays until
// currentTime passes 5 s; reloads to see the player resume; takes screenshots of the
// home, watch and channel pages at phone and desktop widths.
//   node web-watch.mjs BASE_URL WATCH_PATH CHANNEL_PATH SCREENSHOT_DIR
import { launch } from './chromium.mjs';

const [base, watchPath, channelPath, shots] = process.argv.slice(2);
const result = { pageErrors: [], hlsErrors: [] };
const browser = await launch();
const sizes = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };
try {
  const context = await browser.newContext({ viewport: sizes.desktop });
  const page = await context.newPage();
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));

  await page.goto(`${base}${watchPath}`);
  result.title = await page.locator('article.watch h1').innerText();
  result.qualities = await page.locator('.player-quality option').allInnerTexts();
  const video = page.locator('.player video');
  await page.locator('.player').focus();
  await page.keyboard.press('k');
  await page.waitForFunction(() => document.querySelector('.player video').currentTime > 5, null, { timeout: 90_000 })
    .catch((e) => { result.playError = String(e); });
  result.currentTime = await video.evaluate((v) => v.currentTime);
  result.qualities = await page.locator('.player-quality option').allInnerTexts();
  await page.screenshot({ path: `${shots}/watch-desktop.png` });

  // Let the position be saved past 5 s, then come back: the player resumes there.
  await page.waitForFunction(() => document.querySelector('.player video').currentTime > 7, null, { timeout: 30_000 }).catch(() => {});
  await page.reload();
  await page.waitForFunction(() => document.querySelector('.player video').readyState >= 1, null, { timeout: 30_000 }).catch(() => {});
  await page.waitForTimeout(500);
  result.resumedAt = await video.evaluate((v) => v.currentTime);
  result.resumeMessage = await page.locator('.player-status').innerText();

  for (const [name, size] of Object.entries(sizes)) {
    await page.setViewportSize(size);
    await page.goto(`${base}/`);
    await page.screenshot({ path: `${shots}/home-${name}.png`, fullPage: true });
    await page.goto(`${base}${watchPath}`);
    await page.screenshot({ path: `${shots}/watch-${name}.png`, fullPage: true });
    await page.goto(`${base}${channelPath}`);
    await page.screenshot({ path: `${shots}/channel-${name}.png`, fullPage: true });
  }
} catch (e) {
  result.error = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
