// The dashboard's CPU profile in a real browser (Debian's chromium through playwright-core)
// against a real islet: "Record profile" on a tenant that serves a CPU-heavy TypeScript function
// draws a flame graph whose frames name that function at its line in the uploaded file, offers
// the .cpuprofile for download, and zooms into a frame when it is clicked. A screenshot goes to
// test-artifacts/dashboard-profile/ (looked at, not compared).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { chromium as chromiumProgram, needs } from '../support/system';
import { eventually, type Islet, repoRoot, startIslet, TOKEN } from './islet';

const artifacts = path.join(repoRoot, 'test-artifacts', 'dashboard-profile');

const code = `// a function that holds the CPU
interface Work { total: number }

function crunch(ms: number): number {
  const steps: number = ms * 100_000; // a tenant's clock stands still while it runs: count steps
  let total = 0;
  for (let i = 0; i < steps; i++) total += Math.sqrt(total + 1);
  return total;
}

export default {
  fetch(): Response {
    const work: Work = { total: crunch(15) };
    return new Response(String(work.total));
  },
};
`;
const CRUNCH_LINE = 4;

describe('dashboard CPU profile in a browser', needs(chromiumProgram), () => {
  let islet: Islet;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    fs.mkdirSync(artifacts, { recursive: true });
    islet = await startIslet();
    const form = new FormData();
    form.append('file', new Blob([code]), 'index.ts');
    const res = await fetch(`${islet.adminBase}/v1/tenants/busy/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: form,
    });
    assert.equal(res.status, 201, await res.text());
    await eventually(async () => ((await islet.get('busy')).status === 200 ? true : undefined), 5000, 'served');
    browser = await chromium.launch({
      executablePath: chromiumProgram.path ?? 'chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--headless'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${islet.adminBase}/`);
    await page.fill('#token', TOKEN);
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('#view-overview:not([hidden])');
  });

  after(async () => {
    await browser?.close();
    await islet?.close();
  });

  it('records a profile and draws its flame graph at the TypeScript line', async () => {
    await page.goto(`${islet.adminBase}/#/tenant/busy`);
    await page.waitForSelector('#profile-form');
    await page.fill('#profile-seconds', '1.5');
    let running = true;
    const traffic = (async () => {
      while (running) await islet.get('busy');
    })();
    try {
      await page.click('#profile-start');
      await page.waitForSelector('#profile-flame svg .frame', { timeout: 20_000 });
    } finally {
      running = false;
      await traffic;
    }
    assert.match((await page.textContent('#profile-status')) ?? '', /^\d+ samples of 1 isolate$/);
    const titles = await page.locator('#profile-flame .frame title').allTextContents();
    // V8 names a function by its first line, or by the loop it entered optimized code at (OSR):
    // either way a line of crunch in the uploaded index.ts
    const crunch = titles.find((t) => {
      const line = /^crunch index\.ts:(\d+) /.exec(t)?.[1];
      return line !== undefined && Number(line) >= CRUNCH_LINE && Number(line) <= CRUNCH_LINE + 5;
    });
    assert.ok(crunch, `a crunch frame at index.ts:${CRUNCH_LINE}-${CRUNCH_LINE + 5}: ${titles.join(' | ')}`);
    assert.match((await page.getAttribute('#profile-download', 'download')) ?? '', /^busy-.*\.cpuprofile$/);
    assert.equal(await page.isVisible('#profile-download'), true);
    await page.screenshot({ path: path.join(artifacts, 'flame.png'), fullPage: true });

    // a click zooms to the frame: it becomes the full width of the graph
    const frame = page.locator('#profile-flame .frame', { has: page.locator(`title:text-matches("^crunch ")`) });
    // the frame's own click handler, whatever overlaps it on screen at this width
    await frame.first().dispatchEvent('click');
    await eventually(
      async () => {
        const width = await page.locator('#profile-flame .frame rect').first().getAttribute('width');
        const label = (await page.locator('#profile-flame svg').getAttribute('aria-label')) ?? '';
        return Math.abs(Number(width) - 1000) < 0.01 && /Flame graph of \d+ samples/.test(label) ? true : undefined;
      },
      5000,
      'zoomed to crunch',
    );
    assert.match((await page.locator('#profile-flame .frame title').first().textContent()) ?? '', /^crunch /);
    assert.deepEqual(pageErrors, []);
  });
});
