// Opens pages that show text chosen by users (titles, descriptions, channel names) holding
// script payloads, and reports for each whether anything ran or was injected: dialogs,
// blocked inline scripts (CSP reports), elements or handlers that the payloads would create.
// The payloads call alert(); none may fire.
//   node web-xss.mjs BASE_URL USERNAME PASSWORD PATH...
import { launch } from './chromium.mjs';

const [base, username, password, ...paths] = process.argv.slice(2);
const result = { pages: [], pageErrors: [] };
const browser = await launch();
try {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${base}/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/`);
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));
  let dialogs = [];
  let violations = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
  for (const path of paths) {
    dialogs = [];
    violations = [];
    const resp = await page.goto(`${base}${path}`);
    await page.waitForTimeout(300);
    const seen = await page.evaluate(() => ({
      injected: Array.from(document.querySelectorAll(
        'script:not([src]), [onerror], [onload], [onclick], [onmouseover], img[src="x"], svg, a[href^="javascript:" i]',
      )).map((e) => e.outerHTML.slice(0, 120)),
      text: document.body.innerText,
      title: document.title,
    }));
    result.pages.push({ path, status: resp.status(), dialogs, violations, ...seen });
  }
} catch (e) {
  result.error = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
