// The owner edits a video on its edit page (title, description, visibility) and gives it
// a new thumbnail; then the channel gets an avatar and a banner. Reports what the watch,
// edit and channel pages show afterwards.
//   node web-edit.mjs BASE_URL USERNAME PASSWORD VIDEO_UUID CHANNEL_NAME IMAGE_JPEG
import { launch } from './chromium.mjs';

const [base, username, password, uuid, channel, image] = process.argv.slice(2);
const result = { pageErrors: [] };
const browser = await launch();
try {
  const page = await (await browser.newContext()).newPage();
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));
  await page.goto(`${base}/login?redirect=/videos/manage/${uuid}`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/videos/manage/${uuid}`);

  await page.getByLabel('Title').fill('Renamed film');
  await page.getByLabel('Description (markdown)').fill('Now with a *new* description.');
  await page.getByLabel('Visibility').selectOption({ label: 'Unlisted' });
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.locator('.form-message', { hasText: /Saved|Not saved/ }).waitFor();
  result.saveMessage = await page.locator('.form-message').innerText();
  // A title the API refuses: the page says why.
  await page.getByLabel('Title').fill('ab');
  await page.locator('#name').evaluate((i) => i.removeAttribute('minlength'));
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.locator('.form-message', { hasText: /Not saved/ }).waitFor();
  result.refusedMessage = await page.locator('.form-message').innerText();

  await page.setInputFiles('#thumbnail', image);
  await page.getByRole('button', { name: 'Upload thumbnail' }).click();
  await page.waitForURL(`${base}/videos/manage/${uuid}`);
  result.thumbnail = await page.locator('img.current-thumbnail').getAttribute('src');
  result.thumbnailLoaded = await page.locator('img.current-thumbnail').evaluate((i) => i.complete && i.naturalWidth > 0);

  await page.goto(`${base}/videos/watch/${uuid}`);
  result.watchTitle = await page.locator('article.watch h1').innerText();
  result.watchDescription = await page.locator('section.description').innerHTML();
  result.watchBadges = await page.locator('.watch-meta').innerText();

  await page.goto(`${base}/c/${channel}/manage`);
  await page.getByLabel('Display name').fill('Drama club');
  await page.setInputFiles('#avatar', image);
  await page.setInputFiles('#banner', image);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(`${base}/c/${channel}`);
  result.channelName = await page.locator('header.actor h1').innerText();
  result.avatarLoaded = await page.locator('header.actor img.avatar').evaluate((i) => i.complete && i.naturalWidth > 0);
  result.bannerLoaded = await page.locator('img.banner').evaluate((i) => i.complete && i.naturalWidth > 0);
} catch (e) {
  result.error = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
