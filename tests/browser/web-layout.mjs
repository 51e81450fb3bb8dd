// The channel owner changes the channel page's layout on its settings page; after each
// change, reports what a visitor (not signed in) sees on the channel page.
//   node web-layout.mjs BASE_URL USERNAME PASSWORD CHANNEL_NAME FEATURED_TITLE SCREENSHOT_DIR
import { launch } from './chromium.mjs';

const [base, username, password, channel, featuredTitle, shots] = process.argv.slice(2);
const result = { pageErrors: [], views: {} };
const browser = await launch();

// What a visitor sees, in page order.
async function visit(visitor, name) {
  await visitor.goto(`${base}/c/${channel}`);
  const view = await visitor.evaluate(() => {
    const featured = document.querySelector('section.featured');
    const grid = document.querySelector('ul.videos');
    const follow = document.querySelector('section.follow');
    const before = (a, b) => !!(a && b && a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
    return {
      featuredTitle: featured ? featured.querySelector('h3').innerText : null,
      featuredFirst: featured ? (grid ? before(featured, grid) : true) : false,
      cards: Array.from(document.querySelectorAll('ul.videos li.card h3')).map((h) => h.innerText),
      pager: !!document.querySelector('nav.pager'),
      followBox: follow ? follow.innerText : null,
      feedLink: follow ? follow.querySelector('a[href*="/feeds/videos.xml"]')?.getAttribute('href') : null,
    };
  });
  await visitor.screenshot({ path: `${shots}/channel-${name}.png`, fullPage: true });
  result.views[name] = view;
}

async function setLayout(page, { featured, hideOlder, followOnly }) {
  await page.goto(`${base}/c/${channel}/manage`);
  await page.getByLabel('Featured video, shown first').selectOption({ label: featured || 'None' });
  await page.getByLabel(/Hide older videos/).setChecked(hideOlder);
  await page.getByLabel(/follow for new videos/).setChecked(followOnly);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(`${base}/c/${channel}`);
}

try {
  const owner = await (await browser.newContext()).newPage();
  owner.on('pageerror', (e) => result.pageErrors.push(String(e)));
  await owner.goto(`${base}/login?redirect=/c/${channel}/manage`);
  await owner.getByLabel('Username').fill(username);
  await owner.getByLabel('Password').fill(password);
  await owner.getByRole('button', { name: 'Sign in' }).click();
  await owner.waitForURL(`${base}/c/${channel}/manage`);
  const visitor = await (await browser.newContext()).newPage();

  await visit(visitor, 'default');
  await setLayout(owner, { featured: featuredTitle, hideOlder: true, followOnly: false });
  await visit(visitor, 'featured-newest');
  await setLayout(owner, { featured: featuredTitle, hideOlder: false, followOnly: true });
  await visit(visitor, 'follow-only');
} catch (e) {
  result.error = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
