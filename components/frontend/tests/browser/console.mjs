// Drives Debian's Chromium through the release console. `tests/browser.rs` starts the app,
// records a release story through the API, and runs this with:
//   BASE_URL        the console, e.g. http://127.0.0.1:41234
//   APPROVER_TOKEN  a bearer token with the approver role, to decide the approval
//   VERSION         the release the story recorded (its notes carry a <script>)
//   OUT_DIR         where the screenshots go
// Exits non-zero with one line per failed check.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const { BASE_URL, APPROVER_TOKEN, VERSION, OUT_DIR } = process.env;
for (const [name, value] of Object.entries({ BASE_URL, APPROVER_TOKEN, VERSION, OUT_DIR })) {
  if (!value) {
    console.error(`console.mjs: ${name} is not set`);
    process.exit(2);
  }
}
mkdirSync(OUT_DIR, { recursive: true });

const failures = [];
function check(ok, what) {
  if (!ok) failures.push(what);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});

/** A fresh context whose console errors, page errors and failed requests are collected. */
async function open(options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => {
    // Leaving a page cancels its in-flight refresh (the interval here is 1 s): not an error.
    const aborted = (req.failure()?.errorText || '').includes('ERR_ABORTED');
    if (!(aborted && new URL(req.url()).pathname.startsWith('/fragments/'))) {
      errors.push(`request failed: ${req.url()} (${req.failure()?.errorText})`);
    }
  });
  return { context, page, errors };
}

const releaseHref = `/releases/${VERSION}`;

/** The lowest WCAG contrast ratio among the page's visible text, with the element it is on. */
async function lowestContrast(page) {
  return page.evaluate(() => {
    const rgb = (css) => (css.match(/[\d.]+/g) || []).map(Number);
    const luminance = ([r, g, b]) => {
      const channel = (c) => {
        const s = c / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    };
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    let lowest = { ratio: Infinity, what: '' };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!node.textContent.trim() || !el.getClientRects().length) continue;
      if (el.closest('.skip, .visually-hidden')) continue;
      const [l1, l2] = [luminance(rgb(getComputedStyle(el).color)), luminance(background(el))];
      const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
      if (ratio < lowest.ratio) lowest = { ratio, what: `${el.tagName.toLowerCase()}.${el.className} "${node.textContent.trim().slice(0, 30)}"` };
    }
    return lowest;
  });
}

try {
  // Desktop: the overview, then a release link.
  const desktop = await open({ viewport: { width: 1280, height: 900 } });
  const { page } = desktop;
  // The page's timers run on a clock the test moves: the overview's refresh (every second
  // here) happens when the test says, never in the middle of a click.
  await page.clock.install();
  const overview = await page.goto(`${BASE_URL}/`);
  check(overview.status() === 200, `overview answered ${overview.status()}`);
  check((await page.locator('h1').textContent()) === 'Overview', 'the overview has its heading');
  check(await page.locator('table.matrix th[scope="row"]', { hasText: 'staging' }).isVisible(),
    'the cluster matrix lists staging');
  check(await page.locator('#pending-heading + ul a', { hasText: VERSION }).isVisible(),
    'the pending approval is listed');
  check((await page.locator('.served-by').textContent()).includes('Served by'),
    'the overview says which cluster served it');
  const tooltip = await page.locator('table.matrix time').first().getAttribute('title');
  check(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/.test(tooltip || ''), `times carry a UTC tooltip (${tooltip})`);
  await page.screenshot({ path: join(OUT_DIR, 'overview-desktop.png'), fullPage: true });

  await page.locator(`#releases-heading ~ div a[href="${releaseHref}"]`).first().click();
  await page.waitForURL(`${BASE_URL}${releaseHref}`, { timeout: 30000 }).catch(() => {});
  check(page.url() === `${BASE_URL}${releaseHref}`, `the link leads to ${releaseHref}, not ${page.url()}`);
  check((await page.locator('h1').textContent()) === `Release ${VERSION}`, 'the link leads to the release');
  const notes = await page.locator('div.notes').textContent();
  check(notes.includes('<script>'), 'the injected script shows as text in the notes');
  check(await page.evaluate(() => window.__pwned === undefined), 'the injected script did not run');
  check(await page.locator('.approval .badge', { hasText: 'pending' }).isVisible(), 'the approval is pending');
  await page.screenshot({ path: join(OUT_DIR, 'release-desktop.png'), fullPage: true });

  // The overview refreshes in place: decide the approval through the API and watch it leave the
  // pending list without a reload.
  await page.goto(`${BASE_URL}/`);
  await page.evaluate(() => { window.__sameDocument = true; });
  const decided = await fetch(`${BASE_URL}/api/releases/${VERSION}/approval/decision`, {
    method: 'POST',
    headers: { authorization: `Bearer ${APPROVER_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ decision: 'approve', comment: 'Staging is green; go.' }),
  });
  check(decided.status === 200, `deciding through the API answered ${decided.status}`);
  // One refresh interval later the page asks for fresh data; the answer arrives when it does.
  await page.clock.runFor(1000);
  try {
    await page.locator('#pending-heading ~ p', { hasText: 'Nothing is waiting for approval.' })
      .waitFor({ timeout: 30000 });
  } catch {
    failures.push('the overview did not show the decision after its refresh');
  }
  check(await page.evaluate(() => window.__sameDocument === true), 'the overview refreshed without a reload');

  await page.goto(`${BASE_URL}${releaseHref}`);
  check(await page.locator('.approval .badge', { hasText: 'approved' }).isVisible(), 'the release shows approved');
  check((await page.locator('.approval').textContent()).includes('Staging is green; go.'), 'the comment is shown');
  check(await page.evaluate(() => window.__pwned === undefined), 'the injected script did not run on reload');
  // Insights: linked from the overview; four charts, each named and described for a screen
  // reader, with its data in a table behind a <details>.
  await page.goto(`${BASE_URL}/`);
  await page.locator('main a[href="/insights"]').first().click();
  await page.waitForURL(`${BASE_URL}/insights`, { timeout: 30000 }).catch(() => {});
  check((await page.locator('h1').textContent()) === 'Delivery insights', 'the overview links to insights');
  const charts = await page.locator('svg.chart[role="img"]').evaluateAll((svgs) => svgs.map((svg) => {
    const named = (svg.getAttribute('aria-labelledby') || '').split(' ')
      .map((id) => document.getElementById(id)?.textContent.trim() || '');
    return { named, bars: svg.querySelectorAll('rect.bar').length };
  }));
  check(charts.length === 4, `insights draws four charts, not ${charts.length}`);
  check(charts.every((c) => c.named.length === 2 && c.named.every((t) => t.length > 10)),
    `every chart has a <title> and a <desc>: ${JSON.stringify(charts)}`);
  check(charts[0].bars > 0, 'the production deployment shows as a bar');
  check((await page.locator('#frequency-heading + .figure').textContent()).includes('per week'),
    'deployment frequency is given as a figure');
  check(await page.locator('details table tbody tr').count() >= 4, 'every chart has its data table');
  check(await page.locator('.figure .badge').count() > 0, 'the figures carry their DORA level');
  await page.screenshot({ path: join(OUT_DIR, 'insights-desktop.png'), fullPage: true });
  check(desktop.errors.length === 0, `desktop logged errors: ${desktop.errors.join('; ')}`);
  await desktop.context.close();

  // Phone width, light and dark: no sideways scrolling of the page itself.
  for (const colorScheme of ['light', 'dark']) {
    const phone = await open({
      viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
      colorScheme,
    });
    for (const [name, path] of [['overview', '/'], ['release', releaseHref], ['insights', '/insights']]) {
      await phone.page.goto(`${BASE_URL}${path}`);
      const overflow = await phone.page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      check(overflow <= 0, `${name} scrolls sideways by ${overflow}px on a phone (${colorScheme})`);
      const contrast = await lowestContrast(phone.page);
      check(contrast.ratio >= 4.5,
        `${name} (${colorScheme}): contrast ${contrast.ratio.toFixed(2)} < 4.5 for ${contrast.what}`);
      await phone.page.screenshot({ path: join(OUT_DIR, `${name}-phone-${colorScheme}.png`), fullPage: true });
    }
    const background = await phone.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    check((colorScheme === 'dark') === (background === 'rgb(13, 17, 23)'),
      `the ${colorScheme} theme follows prefers-color-scheme (${background})`);
    check(phone.errors.length === 0, `phone logged errors: ${phone.errors.join('; ')}`);
    await phone.context.close();
  }

  // Without JavaScript every page still has its data.
  const noScript = await open({ javaScriptEnabled: false });
  for (const path of ['/', '/releases', releaseHref, '/approvals', '/audit', '/insights']) {
    const response = await noScript.page.goto(`${BASE_URL}${path}`);
    check(response.status() === 200, `${path} without JavaScript answered ${response.status()}`);
  }
  check(await noScript.page.locator('table tbody tr').count() > 0, 'the audit log renders without JavaScript');
  await noScript.context.close();
} catch (err) {
  failures.push(`unexpected: ${err.stack || err}`);
} finally {
  await browser.close();
}

if (failures.length) {
  for (const f of failures) console.error(`FAILED: ${f}`);
  process.exit(1);
}
console.log(`console.mjs: every check passed; screenshots in ${OUT_DIR}`);
