// Drives Debian's Chromium through the release console. `tests/browser.rs` starts the app,
// records a release story through the API, and runs this with:
//   BASE_URL        the console, e.g. http://127.0.0.1:41234
//   APPROVER_TOKEN  a bearer token with the approver role, to decide the approval
//   VERSION         the release the story recorded (its notes carry a <script>)
//   OUT_DIR         where the screenshots go
//   EARLIER         an older release in the ledger, to compare with VERSION
// Exits non-zero with one line per failed check.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

const { BASE_URL, APPROVER_TOKEN, VERSION, OUT_DIR, EARLIER } = process.env;
for (const [name, value] of Object.entries({ BASE_URL, APPROVER_TOKEN, VERSION, OUT_DIR, EARLIER })) {
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
  let fragments = 0;
  page.on('request', (req) => { if (new URL(req.url()).pathname === '/fragments/overview') fragments += 1; });
  // A keyboard user is on the release's link in the live region when the refresh comes.
  const liveLink = page.locator(`#live #releases-heading ~ div a[href="${releaseHref}"]`).first();
  await liveLink.focus();
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
  const focused = await page.evaluate(() => {
    const el = document.activeElement;
    return { tag: el.tagName, href: el.getAttribute('href'), inLive: !!el.closest('#live') };
  });
  check(focused.tag === 'A' && focused.href === releaseHref && focused.inLive,
    `the refresh keeps the focus on the same link (${JSON.stringify(focused)})`);
  check((await page.locator('#live-announcer[role="status"][aria-live="polite"]').textContent())
    === 'The overview has new data.', 'the change is announced politely');
  // Pausing stops the refresh (WCAG 2.2.2); resuming starts it again.
  const pause = page.locator('#live-pause');
  check(await pause.isVisible(), 'the overview offers to pause its updates');
  await pause.click();
  check((await pause.getAttribute('aria-pressed')) === 'true', 'the pause button says it is pressed');
  const beforePause = fragments;
  await page.clock.runFor(3000);
  await page.waitForTimeout(300);
  check(fragments === beforePause, `paused, the overview still asked for data (${fragments - beforePause} times)`);
  await pause.click();
  check((await pause.textContent()) === 'Pause updates', 'the button offers to pause again');

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
  // Filters and the comparison, as a reader uses them: the form, then the result.
  await page.goto(`${BASE_URL}/releases`);
  await page.selectOption('#filter-state', 'approved');
  await page.locator('form.search button[type="submit"]').click();
  await page.waitForURL(/state=approved/, { timeout: 30000 }).catch(() => {});
  check(await page.locator(`main table a[href="${releaseHref}"]`).isVisible(), 'filtering by approval finds the release');
  await page.screenshot({ path: join(OUT_DIR, 'releases-filtered-desktop.png'), fullPage: true });
  // EARLIER was recorded after VERSION (as a hotfix line would be): it replaces VERSION.
  await page.goto(`${BASE_URL}/releases/${EARLIER}`);
  await page.locator('a', { hasText: 'compare the releases' }).click();
  await page.waitForURL(/\/compare\?/, { timeout: 30000 }).catch(() => {});
  check((await page.locator('h1').textContent()) === `Compare ${VERSION} with ${EARLIER}`,
    'a release links to its comparison with the one before');
  await page.screenshot({ path: join(OUT_DIR, 'compare-desktop.png'), fullPage: true });
  check(desktop.errors.length === 0, `desktop logged errors: ${desktop.errors.join('; ')}`);
  await desktop.context.close();

  // Exact times by keyboard, in UTC or the reader's own zone (Tokyo here: UTC+9, no DST).
  const tokyo = await open({ viewport: { width: 1280, height: 900 }, timezoneId: 'Asia/Tokyo' });
  await tokyo.page.goto(`${BASE_URL}${releaseHref}`);
  let reached = false;
  for (let i = 0; i < 200 && !reached; i += 1) {
    await tokyo.page.keyboard.press('Tab');
    reached = await tokyo.page.evaluate(() => document.activeElement?.id === 'time-format');
  }
  check(reached, 'the time format can be reached with the Tab key');
  await tokyo.page.keyboard.press('ArrowDown');
  const firstTime = tokyo.page.locator('main time').first();
  const utcTitle = await firstTime.getAttribute('title');
  check((await firstTime.textContent()) === utcTitle, `exact UTC times read as their tooltip (${await firstTime.textContent()})`);
  await tokyo.page.selectOption('#time-format', 'local');
  const inTokyo = new Date(Date.parse(utcTitle.replace(' UTC', 'Z').replace(' ', 'T')) + 9 * 3600 * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  const expected = `${inTokyo.getUTCFullYear()}-${pad(inTokyo.getUTCMonth() + 1)}-${pad(inTokyo.getUTCDate())} ` +
    `${pad(inTokyo.getUTCHours())}:${pad(inTokyo.getUTCMinutes())}:${pad(inTokyo.getUTCSeconds())} GMT+9`;
  check((await firstTime.textContent()) === expected, `local times read ${await firstTime.textContent()}, not ${expected}`);
  await tokyo.page.reload();
  check((await tokyo.page.locator('main time').first().textContent()) === expected, 'the choice is kept');
  check(tokyo.errors.length === 0, `Tokyo logged errors: ${tokyo.errors.join('; ')}`);
  await tokyo.context.close();

  // axe-core on every page, light and dark, desktop and phone: no serious or critical issue.
  const audited = ['/', '/releases', '/releases?state=pending&version=1', releaseHref, '/compare',
    `/compare?from=${EARLIER}&to=${VERSION}`, '/approvals', '/approvals?state=approved', '/audit',
    '/audit?action=release.created', '/insights', '/releases?version=1.4%25', '/no/such/page'];
  const modes = [['desktop', { width: 1280, height: 900 }], ['phone', { width: 390, height: 844 }]];
  for (const [device, viewport] of modes) {
    for (const colorScheme of ['light', 'dark']) {
      // The test injects axe itself, which the console's Content-Security-Policy would refuse.
      const audit = await open({ viewport, colorScheme, bypassCSP: true });
      await audit.page.clock.install();
      for (const path of audited) {
        await audit.page.goto(`${BASE_URL}${path}`);
        await audit.page.addScriptTag({ path: axePath });
        const violations = await audit.page.evaluate(async () => {
          const result = await window.axe.run(document, { resultTypes: ['violations'] });
          return result.violations
            .filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .map((v) => `${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
        });
        check(violations.length === 0, `axe, ${path} on ${device} ${colorScheme}: ${violations.join('; ')}`);
      }
      await audit.context.close();
    }
  }

  // Phone width, light and dark: no sideways scrolling of the page itself.
  for (const colorScheme of ['light', 'dark']) {
    const phone = await open({
      viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
      colorScheme,
    });
    const pages = [['overview', '/'], ['release', releaseHref], ['insights', '/insights'],
      ['compare', `/compare?from=${EARLIER}&to=${VERSION}`], ['audit-filtered', '/audit?action=release.created'],
      ['compare-empty', '/compare'], ['filter-refused', '/releases?version=1.4%25']];
    for (const [name, path] of pages) {
      const logged = phone.errors.length;
      const response = await phone.page.goto(`${BASE_URL}${path}`);
      if (name === 'filter-refused') {
        check(response.status() === 400, `a refused filter answered ${response.status()}`);
        // Chromium logs the page's own 400 as a failed resource: expected here, nowhere else.
        const own = phone.errors.slice(logged).filter((e) => e.includes('status of 400'));
        phone.errors.splice(logged, own.length);
      }
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
  for (const path of ['/', '/releases', releaseHref, '/approvals', '/audit', '/insights',
    `/compare?from=${EARLIER}&to=${VERSION}`, '/releases?state=approved']) {
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
