// The dashboard's operator views in a real browser (Debian's chromium through playwright-core)
// against a real islet: history over a time range with axes, totals and the status breakdown;
// log search with filters; a deployment's message, author, sources and the diff between two
// versions; rollback that asks first; a tenant that does not exist; the workers view; valid
// input patterns; and the layout at 390 px, where nothing may overflow. Screenshots of each view
// go to test-artifacts/dashboard-ops/ (looked at, not compared).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { chromium as chromiumProgram, needs } from '../support/system';
import { eventually, type Islet, repoRoot, startIslet, TOKEN } from './islet';

const artifacts = path.join(repoRoot, 'test-artifacts', 'dashboard-ops');

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

const v1 = `// the first version
export default {
  fetch(request: Request): Response {
    const url = new URL(request.url);
    if (url.pathname === '/fail') throw new Error('needle in the haystack');
    console.log('served', url.pathname);
    return new Response('one');
  },
};
`;
const v2 = v1.replace(
  "return new Response('one');",
  "const greeting: string = 'two';\n    return new Response(greeting);",
);

describe('dashboard operator views in a browser', needs(chromiumProgram), () => {
  let islet: Islet;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  async function deploy(code: string, message: string): Promise<string> {
    const form = new FormData();
    form.append('file', new Blob([code]), 'index.ts');
    form.append('message', message);
    const res = await fetch(`${islet.adminBase}/v1/tenants/shop/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: form,
    });
    assert.equal(res.status, 201, await res.clone().text());
    return ((await res.json()) as { id: string }).id;
  }

  before(async () => {
    fs.mkdirSync(artifacts, { recursive: true });
    islet = await startIslet({
      tweak: (config) => {
        config.dashboard.historySampleS = 1;
      },
    });
    browser = await chromium.launch({
      executablePath: chromiumProgram.path ?? 'chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--headless'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    if (process.env.ISLET_TEST_LOGS) page.on('console', (message) => console.error(`page: ${message.text()}`));
    await deploy(v1, 'first: serve one');
    await eventually(async () => ((await islet.get('shop')).text === 'one' ? true : undefined), 5000, 'v1 served');
    // traffic for the history: 30 answered 200, 6 that throw (500)
    for (let i = 0; i < 30; i++) assert.equal((await islet.get('shop', `/ok/${i}`)).status, 200);
    for (let i = 0; i < 6; i++) assert.equal((await islet.get('shop', '/fail')).status, 500);
    await page.goto(`${islet.adminBase}/`);
    await page.fill('#token', TOKEN);
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('#view-overview:not([hidden])');
  });

  after(async () => {
    await browser?.close();
    await islet?.close();
  });

  it('shows history over a time range: totals, requests by status with axes, latency', async () => {
    await page.click('#view-overview .range button[data-range="15m"]');
    // the history store samples every second here: the traffic above shows up within a few
    await eventually(
      async () => {
        await page.click('#view-overview .range button[data-range="15m"]');
        const text = await page.textContent('#overview-stats [data-stat="requests"] .stat-value');
        return Number(text) >= 36 ? true : undefined;
      },
      20_000,
      'requests counted in the history',
    );
    assert.equal(await page.getAttribute('#view-overview .range button[data-range="15m"]', 'aria-pressed'), 'true');
    assert.match(
      (await page.textContent('#overview-stats [data-stat="errors"] .stat-detail')) ?? '',
      /^6 answered 5xx/,
    );
    const chart = page.locator('#overview-requests');
    assert.ok((await chart.locator('.y-tick').count()) >= 2, 'a y axis with ticks');
    assert.ok((await chart.locator('.x-tick').count()) >= 2, 'a time axis with labels');
    const legend = await chart.locator('.legend li').allTextContents();
    // 30 answered, and the request that found v1 served
    assert.match(legend[0]!, /^2xx 3[01]$/);
    assert.deepEqual(legend.slice(1), ['3xx 0', '4xx 0', '5xx 6']);
    assert.equal(await chart.locator('g.bars').count(), 4, 'one bar segment series per status class');
    assert.ok((await chart.locator('g.bars.c-bad rect').count()) >= 1, 'the 5xx requests are drawn');
    assert.ok((await page.locator('#overview-latency path.line').count()) >= 2, 'p50 and p99 lines');
    // another range redraws with its own time axis
    const before = await chart.locator('.x-tick').allTextContents();
    await page.click('#view-overview .range button[data-range="24h"]');
    await eventually(
      async () => ((await chart.locator('.x-tick').allTextContents()).join() !== before.join() ? true : undefined),
      5000,
      'the 24h axis',
    );
    assert.equal(await page.getAttribute('#view-overview .range button[data-range="24h"]', 'aria-pressed'), 'true');
    await page.click('#view-overview .range button[data-range="1h"]');
    await shot(page, '1-overview');
  });

  it("searches and filters a tenant's logs", async () => {
    await page.goto(`${islet.adminBase}/#/tenant/shop`);
    await page.waitForSelector('#tenant-body:not([hidden])');
    const box = page.locator('#tenant-logs [data-log-box]');
    await box.locator('.log').first().waitFor();
    await page.fill('#tenant-logs [name=q]', 'NEEDLE');
    await page.click('#tenant-logs button[type=submit]');
    await eventually(
      async () =>
        (await page.textContent('#tenant-logs [data-log-summary]')) === '6 lines matching' ? true : undefined,
      5000,
      'six uncaught errors found',
    );
    for (const text of await box.locator('.log .message').allTextContents())
      assert.match(text, /needle in the haystack/);
    await page.fill('#tenant-logs [name=q]', '');
    await page.selectOption('#tenant-logs [name=status]', 'error');
    await eventually(
      async () => {
        const messages = await box.locator('.log.request .message').allTextContents();
        return messages.length === 6 && messages.every((m) => /→ 500/.test(m)) ? true : undefined;
      },
      5000,
      'only the failed requests',
    );
    await page.selectOption('#tenant-logs [name=status]', 'ok');
    await eventually(
      async () => {
        const messages = await box.locator('.log.request .message').allTextContents();
        return messages.length >= 30 && messages.every((m) => /→ 200/.test(m)) ? true : undefined;
      },
      5000,
      'only the answered ones',
    );
    // the Logs view searches any tenant the same way
    await page.goto(`${islet.adminBase}/#/logs/shop`);
    await page.waitForSelector('#all-logs .log');
    await page.selectOption('#all-logs [name=level]', 'error');
    await eventually(
      async () => {
        const levels = await page.locator('#all-logs .log .level').allTextContents();
        return levels.length === 6 && levels.every((l) => l === 'error') ? true : undefined;
      },
      5000,
      'error lines only',
    );
    await shot(page, '3-logs');
  });

  it("shows a deployment's message and author, its sources, and the diff between two versions", async () => {
    const second = await deploy(v2, 'second: greet with two');
    await page.goto(`${islet.adminBase}/#/tenant/shop`);
    const row = page.locator(`#deployments tr[data-deployment="${second}"]`);
    await row.waitFor();
    assert.equal(await row.locator('td.message').textContent(), 'second: greet with two');
    assert.equal(await row.locator('td[data-label="By"]').textContent(), 'operator');
    await row.locator('button:has-text("Source")').click();
    await page.waitForSelector('#source-files li:has-text("index.ts")');
    // the TypeScript the tenant uploaded, not the built JavaScript
    await eventually(
      async () =>
        /const greeting: string = 'two';/.test((await page.textContent('#source-text')) ?? '') ? true : undefined,
      5000,
      'source text',
    );
    // the diff picker proposes previous -> active
    await page.click('#diff-form button[type=submit]');
    const file = page.locator('#diff .file-diff[data-path="index.ts"]');
    await file.waitFor();
    assert.equal(await file.getAttribute('data-status'), 'modified');
    assert.deepEqual(
      await file.locator('.patch .del').allTextContents(),
      ["    return new Response('one');\n"].map((l) => `-${l}`),
    );
    assert.deepEqual(await file.locator('.patch .add').allTextContents(), [
      "+    const greeting: string = 'two';\n",
      '+    return new Response(greeting);\n',
    ]);
    await shot(page, '2-tenant-deployments');
  });

  it('asks before a rollback, and rolls back only when confirmed', async () => {
    await page.goto(`${islet.adminBase}/#/tenant/shop`);
    const rollback = page.locator('#deployments tbody tr button:has-text("Roll back")');
    await rollback.waitFor();
    let asked = '';
    page.once('dialog', (dialog) => {
      asked = dialog.message();
      void dialog.dismiss();
    });
    await rollback.click();
    assert.match(asked, /^Roll shop back to deployment /);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await islet.get('shop')).text, 'two', 'a dismissed rollback changes nothing');
    page.once('dialog', (dialog) => void dialog.accept());
    await rollback.click();
    await page.waitForSelector('#flash:has-text("is now active")');
    await eventually(async () => ((await islet.get('shop')).text === 'one' ? true : undefined), 5000, 'rolled back');
  });

  it('shows a not-found view for a tenant that does not exist, and valid name patterns', async () => {
    await page.goto(`${islet.adminBase}/#/tenant/nobody-here`);
    await page.waitForSelector('#tenant-missing:not([hidden])');
    assert.equal(await page.textContent('#tenant-missing-name'), 'nobody-here');
    assert.equal(await page.locator('#tenant-delete').isVisible(), false);
    assert.equal(await page.locator('#deployments').isVisible(), false);
    // every pattern compiles as Chromium compiles it (the v flag), so validation is on
    const patterns = await page.$$eval('input[pattern]', (inputs) =>
      inputs.map((input) => {
        const pattern = input.getAttribute('pattern') ?? '';
        try {
          new RegExp(`^(?:${pattern})$`, 'v');
          return { pattern, ok: true };
        } catch (error) {
          return { pattern, ok: false, error: String(error) };
        }
      }),
    );
    assert.ok(patterns.length >= 3);
    for (const p of patterns) assert.ok(p.ok, `pattern ${p.pattern} is invalid in v mode: ${JSON.stringify(p)}`);
    await page.fill('#tenant-name', 'Bad Name!');
    type Validity = { validity: { patternMismatch: boolean; valid: boolean } };
    assert.equal(
      await page.$eval('#tenant-name', (input) => (input as unknown as Validity).validity.patternMismatch),
      true,
    );
    await page.fill('#tenant-name', 'good-name');
    assert.equal(await page.$eval('#tenant-name', (input) => (input as unknown as Validity).validity.valid), true);
  });

  it('lists the serving processes with uptime and restarts', async () => {
    await page.goto(`${islet.adminBase}/#/workers`);
    const row = page.locator('#workers tbody tr[data-slot="0"]');
    await row.waitFor();
    assert.equal(await row.getAttribute('data-state'), 'ready');
    assert.equal(await row.locator('td[data-label="PID"]').textContent(), String(process.pid));
    assert.match((await row.locator('td[data-label="Uptime"]').textContent()) ?? '', /\d/);
    assert.equal(await row.locator('td[data-label="Restarts"]').textContent(), '0');
    await shot(page, '4-workers');
  });

  it('fits a 390 px wide screen: no view scrolls sideways, no table overflows', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    phone.on('pageerror', (error) => pageErrors.push(error.message));
    try {
      await phone.goto(`${islet.adminBase}/`);
      await phone.fill('#token', TOKEN);
      await phone.click('#signin-form button[type=submit]');
      for (const [view, ready] of [
        ['overview', '#tenants tbody tr'],
        ['tenant/shop', '#deployments tbody tr'],
        ['logs/shop', '#all-logs .log'],
        ['limits', '#limit-totals tbody tr'],
        ['workers', '#workers tbody tr'],
      ] as const) {
        await phone.goto(`${islet.adminBase}/#/${view}`);
        await phone.waitForSelector(ready);
        await new Promise((resolve) => setTimeout(resolve, 200));
        const overflow = await phone.evaluate(() => {
          // runs in the page: its DOM, typed as far as this check reads it
          type Box = { tagName: string; id: string; offsetParent: unknown; getBoundingClientRect(): { right: number } };
          const document = (
            globalThis as unknown as {
              document: {
                documentElement: { clientWidth: number; scrollWidth: number };
                querySelectorAll(s: string): Iterable<Box>;
              };
            }
          ).document;
          const width = document.documentElement.clientWidth;
          const wide = [...document.querySelectorAll('table, .card, .stat, figure')]
            .filter((el) => el.offsetParent !== null)
            .map((el) => ({ el: `${el.tagName}#${el.id}`, right: el.getBoundingClientRect().right }))
            .filter((r) => r.right > width + 0.5);
          return { scroll: document.documentElement.scrollWidth, width, wide };
        });
        assert.ok(
          overflow.scroll <= overflow.width,
          `${view}: the page scrolls sideways (${overflow.scroll} > ${overflow.width})`,
        );
        assert.deepEqual(overflow.wide, [], `${view}: elements past the right edge`);
        await phone.screenshot({ path: path.join(artifacts, `390-${view.replace('/', '-')}.png`), fullPage: true });
      }
    } finally {
      await phone.close();
    }
    assert.deepEqual(pageErrors, [], 'no script error in the page');
  });
});
