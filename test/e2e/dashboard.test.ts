// The operator dashboard driven by a real browser (Debian's chromium through playwright-core)
// against a real islet: sign in, upload a function, see it listed, open its URL, upload a second
// version, roll back, watch the request counter move under traffic, see a limit event appear,
// read the tenant's logs, delete an old deployment. A screenshot of each main screen goes to
// test-artifacts/; ISLET_UPDATE_DOCS_SCREENSHOT=1 also refreshes docs/dashboard.png.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { request } from 'undici';
import { eventually, repoRoot, startIslet, TOKEN, type Islet } from './islet';
import { chromium as chromiumProgram, needs } from '../support/system';

const artifacts = path.join(repoRoot, 'test-artifacts', 'dashboard');
const fixtures = path.join(repoRoot, 'test', 'fixtures', 'e2e');

/** `count` requests to a tenant, `gapMs` apart: enough to span two polls of the page. */
async function traffic(islet: Islet, tenant: string, count: number, gapMs: number, p = '/'): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    statuses.push((await islet.get(tenant, p)).status);
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  return statuses;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

describe('dashboard in a browser', needs(chromiumProgram), () => {
  let islet: Islet;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    fs.mkdirSync(artifacts, { recursive: true });
    islet = await startIslet({ functions: true });
    browser = await chromium.launch({
      executablePath: chromiumProgram.path ?? 'chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--headless'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // deleting a deployment asks for confirmation: answer yes, as an operator would
    page.on('dialog', (dialog) => void dialog.accept());
  });

  after(async () => {
    await browser?.close();
    await islet?.close();
  });

  it('refuses a wrong token and signs in with the operator token', async () => {
    await page.goto(`${islet.adminBase}/`);
    await shot(page, '1-sign-in');
    await page.fill('#token', 'not-the-token');
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('#signin-error:has-text("Sign-in failed")');
    await page.fill('#token', TOKEN);
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('#view-overview:not([hidden])');
    // the examples published at start are listed with their URL
    await page.waitForSelector('#tenants tr[data-tenant="api"]');
    const url = await page.getAttribute('#tenants tr[data-tenant="api"] a.url', 'href');
    assert.equal(url, `http://api.localhost:${islet.serving.tenantPort}/`);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('islet.token')), TOKEN);
  });

  it('uploads a folder as a new tenant, lists it and opens its URL', async () => {
    await page.click('nav a[data-view="tenant"]');
    await page.fill('#tenant-name', 'shop');
    await page.click('#tenant-pick button[type=submit]');
    // no such tenant yet: a not-found view with the deploy form, which creates it
    await page.waitForSelector('#tenant-missing:not([hidden])');
    assert.equal(await page.locator('#tenant-delete').isVisible(), false, 'nothing to delete');
    await page.setInputFiles('#upload-folder', path.join(fixtures, 'shop-v1'));
    await page.waitForSelector('#upload-list li:has-text("lib/greet.ts")');
    await page.click('#upload-submit');
    await page.waitForSelector('#upload-status:has-text("Deployed")');
    await page.waitForSelector('#deployments tbody tr.active');
    assert.equal(await page.locator('#deployments tbody tr').count(), 1);

    await page.click('nav a[data-view="overview"]');
    const link = page.locator('#tenants tr[data-tenant="shop"] a.url');
    await link.waitFor();
    assert.equal(await link.getAttribute('href'), `http://shop.localhost:${islet.serving.tenantPort}/`);
    const [popup] = await Promise.all([page.waitForEvent('popup'), link.click()]);
    await popup.waitForLoadState();
    assert.equal((await popup.textContent('body'))?.trim(), 'shop v1');
    await popup.close();
  });

  it('uploads a second version, then rolls back to the first', async () => {
    await page.click('#tenants tr[data-tenant="shop"] th a:not(.url)');
    await page.waitForSelector('#tenant-body:not([hidden])');
    await page.setInputFiles('#upload-files', path.join(fixtures, 'shop-v2', 'index.js'));
    await page.click('#upload-submit');
    await page.waitForSelector('#upload-status:has-text("Deployed")');
    await page.waitForSelector('#deployments tbody tr:nth-child(2)');
    await eventually(
      async () => ((await islet.get('shop')).text === 'shop v2\n' ? true : undefined),
      5000,
      'v2 served',
    );

    const rollback = page.locator('#deployments tbody tr button:has-text("Roll back")');
    assert.equal(await rollback.count(), 1, 'only the older deployment offers a rollback');
    await rollback.click();
    await page.waitForSelector('#flash:has-text("is now active")');
    await eventually(
      async () => ((await islet.get('shop')).text === 'shop v1\n' ? true : undefined),
      5000,
      'v1 served again',
    );
    // the active row is now the older one, and the newer one offers "Activate"
    await page.waitForSelector('#deployments tbody tr:nth-child(2).active');
    await page.waitForSelector('#deployments tbody tr:nth-child(1) button:has-text("Activate")');
  });

  it("edits the tenant's environment: a var reaches the function, a secret's value is never shown", async () => {
    await page.goto(`${islet.adminBase}/#/tenant/sign`);
    await page.waitForSelector('#env tbody tr');
    await page.fill('#env-name', 'SIGNING_KEY');
    await page.fill('#env-value', 'from-the-dashboard');
    await page.check('#env-secret');
    await page.click('#env-form button[type=submit]');
    await page.waitForSelector('#env tr[data-name="SIGNING_KEY"]:has-text("secret (hidden)")');
    assert.equal(await page.locator('#env:has-text("from-the-dashboard")').count(), 0);
    // the function now signs with the secret: no more development-key warning
    await eventually(
      async () => ((await islet.get('sign', '/')).headers['x-dev-key'] === undefined ? true : undefined),
      5000,
      'secret in use',
    );
    await page.click('#env tr[data-name="SIGNING_KEY"] button:has-text("Remove")');
    await page.waitForSelector('#env tr[data-name="SIGNING_KEY"]', { state: 'detached' });
    await eventually(
      async () => ((await islet.get('sign', '/')).headers['x-dev-key'] !== undefined ? true : undefined),
      5000,
      'secret removed',
    );
  });

  it('deploys a file dropped on the drop zone', async () => {
    await page.goto(`${islet.adminBase}/#/tenant/dropped`);
    await page.waitForSelector('#deploy-card:not([hidden])');
    const dataTransfer = await page.evaluateHandle(() => {
      // runs in the page: DOM classes are the browser's
      const web = globalThis as unknown as {
        DataTransfer: new () => { items: { add(file: unknown): void } };
        File: new (parts: string[], name: string, options: object) => unknown;
      };
      const dt = new web.DataTransfer();
      dt.items.add(
        new web.File(['export default { fetch() { return new Response("dropped here\\n"); } };'], 'worker.js', {
          type: 'text/javascript',
        }),
      );
      return dt;
    });
    await page.dispatchEvent('#dropzone', 'drop', { dataTransfer });
    await page.waitForSelector('#upload-list li:has-text("worker.js")');
    assert.equal(
      await page.getAttribute('#upload-entry', 'placeholder'),
      'worker.js',
      'the only file is proposed as the entry',
    );
    await page.fill('#upload-routes', 'drop.example.test/files*');
    await page.click('#upload-submit');
    await page.waitForSelector('#upload-status:has-text("Deployed")');
    await page.waitForSelector('#deployments tbody tr.active td:has-text("drop.example.test/files*")');
    await eventually(
      async () => ((await islet.get('dropped')).text === 'dropped here\n' ? true : undefined),
      5000,
      'dropped file served',
    );
    // the route given in the form reaches the function too
    const routed = await request(`${islet.tenantBase}/files/a.txt`, { headers: { host: 'drop.example.test' } });
    assert.equal(await routed.body.text(), 'dropped here\n');
    await page.click('nav a[data-view="overview"]');
    await page.waitForSelector('#tenants tr[data-tenant="dropped"] td:has-text("drop.example.test/files*")');
    await page.click('#tenants tr[data-tenant="dropped"] th a:not(.url)');
    await page.waitForSelector('#deployments tbody tr.active');
    // and the tenant goes away again, with its function
    await page.click('#tenant-delete');
    await page.waitForSelector('#view-overview:not([hidden])');
    await page.waitForSelector('#tenants tr[data-tenant="dropped"]', { state: 'detached' });
    await page.waitForSelector('#flash:has-text("Tenant dropped deleted")');
    await eventually(
      async () => ((await islet.get('dropped')).status === 404 ? true : undefined),
      5000,
      'deleted tenant no longer served',
    );
    await page.goto(`${islet.adminBase}/#/tenant/shop`);
    await page.waitForSelector('#deployments tbody tr.active');
  });

  it('moves the request counter and charts after traffic, and shows the logs', async () => {
    const sent = traffic(islet, 'shop', 40, 100);
    await eventually(
      async () => {
        const text = await page.textContent('#tenant-charts figure[data-metric="rps"] output');
        const value = Number(text);
        return Number.isFinite(value) && value > 0 ? value : undefined;
      },
      15000,
      'requests/s above zero',
    );
    assert.ok((await sent).every((status) => status === 200));
    const p50 = await page.textContent('#tenant-charts figure[data-metric="p50"] output');
    assert.match(p50 ?? '', /\d/, 'latency is shown once requests were seen');
    await page.click('#tenant-logs button[type=submit]');
    await page.waitForSelector('#tenant-logs .log:has-text("shop v1 served /")');
    // following: a request made now shows up without a refresh
    await page.check('#tenant-logs [name=follow]');
    // (the stream may take a moment to open: requests are sent until one of them is shown)
    await eventually(
      async () => {
        assert.equal((await islet.get('shop', '/followed')).status, 200);
        return (await page.locator('#tenant-logs .log:has-text("shop v1 served /followed")').count()) > 0
          ? true
          : undefined;
      },
      5000,
      'followed line shown',
    );
    await page.uncheck('#tenant-logs [name=follow]');
    await shot(page, '3-tenant');
  });

  it('shows a limit event when a request is cut by the CPU limit', async () => {
    await page.click('nav a[data-view="limits"]');
    await page.waitForSelector('#view-limits:not([hidden])');
    const spin = fs.readFileSync(path.join(fixtures, 'spin', 'index.js'));
    const deployed = await fetch(`${islet.adminBase}/v1/tenants/spin/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/javascript' },
      body: spin,
    });
    assert.equal(deployed.status, 201);
    await eventually(async () => ((await islet.get('spin')).status === 200 ? true : undefined), 5000, 'spin deployed');
    const cut = await islet.get('spin', '/spin');
    assert.equal(cut.status, 503);
    await page.waitForSelector('#limit-events li[data-tenant="spin"][data-limit="cpu"]', { timeout: 15000 });
    await page.waitForSelector('#limit-totals td:has-text("spin")');
    // the cut itself, from the tenant's logs: how much CPU it had used and which request it was
    const row = page.locator('#limit-recent tr[data-tenant="spin"][data-limit="cpu"]');
    await row.waitFor({ timeout: 10000 });
    assert.match((await row.locator('td').nth(3).textContent()) ?? '', /^\d+(\.\d+)? ms$/);
    assert.match((await row.locator('td').nth(4).textContent()) ?? '', /\S/);
    // and where the function was when it was cut: the endless loop, line 4 of the uploaded file
    assert.match((await row.locator('td').nth(5).textContent()) ?? '', /index\.js:4:\d+/);
    assert.match((await page.textContent('#limit-count')) ?? '', /^\d+$/);
    await shot(page, '4-limits');
  });

  it('deletes an inactive deployment and refuses to offer deleting the active one', async () => {
    await page.goto(`${islet.adminBase}/#/tenant/shop`);
    await page.waitForSelector('#deployments tbody tr:nth-child(2)');
    assert.equal(await page.locator('#deployments tbody tr.active button:has-text("Delete")').isDisabled(), true);
    await page.click('#deployments tbody tr:not(.active) button:has-text("Delete")');
    await page.waitForSelector('#flash:has-text("deleted")');
    await eventually(
      async () => ((await page.locator('#deployments tbody tr').count()) === 1 ? true : undefined),
      5000,
      'one deployment left',
    );
    const listed = await islet.admin('/v1/tenants/shop/deployments');
    assert.equal(listed.body.deployments.length, 1);
    assert.equal(listed.body.deployments[0].id, listed.body.active);
  });

  it('lets a tenant deploy token see its own tenant only', async () => {
    const created = await islet.admin('/v1/tenants/shop/tokens', { method: 'POST', body: {} });
    assert.equal(created.status, 201);
    const context = await browser.newContext();
    try {
      const tenantPage = await context.newPage();
      await tenantPage.goto(`${islet.adminBase}/`);
      await tenantPage.fill('#token', created.body.token);
      await tenantPage.click('#signin-form button[type=submit]');
      // the overview lists the token's own tenant and nothing else
      await tenantPage.waitForSelector('#tenants tr[data-tenant="shop"]');
      assert.equal(await tenantPage.locator('#tenants tbody tr').count(), 1);
      await tenantPage.waitForSelector('#metrics-note:has-text("operator token")');
      await tenantPage.goto(`${islet.adminBase}/#/tenant/shop`);
      await tenantPage.waitForSelector('#deployments tbody tr.active');
      await tenantPage.goto(`${islet.adminBase}/#/tenant/api`);
      await tenantPage.waitForSelector('#flash.error');
      assert.equal(
        await tenantPage.locator('#deployments tbody tr').count(),
        0,
        "another tenant's deployments stay hidden",
      );
    } finally {
      await context.close();
    }
  });

  it('shows every tenant with live numbers on the overview', async () => {
    await page.click('nav a[data-view="overview"]');
    const sent = Promise.all([
      traffic(islet, 'api', 30, 100, '/notes'),
      traffic(islet, 'page', 30, 100),
      traffic(islet, 'multi', 20, 150, '/quotes'),
    ]);
    await eventually(
      async () => {
        const text = await page.textContent('#tenants tr[data-tenant="api"] td[data-metric="rps"]');
        return Number.parseFloat(text ?? '') > 0 ? true : undefined;
      },
      15000,
      'api requests/s on the overview',
    );
    await sent;
    await shot(page, '2-overview');
    if (process.env.ISLET_UPDATE_DOCS_SCREENSHOT) {
      // a longer run of mixed traffic, so the README's picture has charts with some history
      await Promise.all([
        traffic(islet, 'api', 120, 100, '/notes'),
        traffic(islet, 'page', 80, 150),
        traffic(islet, 'multi', 60, 200, '/quotes'),
        traffic(islet, 'sign', 40, 300, '/verify?token=x.y'),
      ]);
      // the last quarter of an hour: the traffic above fills the history charts
      await page.click('#view-overview .range button[data-range="15m"]');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
      const main = await page.locator('#view-overview').boundingBox();
      const height = Math.ceil((main?.y ?? 0) + (main?.height ?? 800) + 16);
      await page.screenshot({
        path: path.join(repoRoot, 'docs', 'dashboard.png'),
        fullPage: true,
        clip: { x: 0, y: 0, width: 1280, height },
      });
    }
    await page.click('#signout');
    await page.waitForSelector('#signin:not([hidden])');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('islet.token')), null);
    assert.deepEqual(pageErrors, [], 'no script error in the page');
  });
});
