// Cron triggers through a real islet: a worker with only a scheduled handler deploys (wrangler.toml
// with [triggers]) and its runs are observed; slots are claimed so two schedulers sharing a node
// run each slot once; a failed run is retried once unless the handler called noRetry(); runs
// have limits of their own; the admin API runs a handler by hand. The schedulers under test keep
// a clock set to just before a minute boundary, so a '* * * * *' slot comes within a second.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { SqliteSlotClaims } from '../../server/bindings/cron/claims';
import { CronScheduler } from '../../server/bindings/cron/scheduler';
import { deployProject, setBindings } from './bindings-helpers';
import { eventually, type Harness, startHarness } from './serve-harness';

let h: Harness;

before(async () => {
  h = await startHarness((config) => {
    // the tests run their own schedulers, on a clock of their own
    config.cron.enabled = false;
    config.cron.retryDelayMs = 200;
    config.limits.cronCpuMs = 100;
    config.limits.cronWallMs = 700;
  });
});
after(() => h.close());

/** a scheduler of this server on a clock `lead` ms before the next minute boundary */
function scheduler(claims: SqliteSlotClaims, lead = 400): CronScheduler {
  const minute = 60_000;
  const offset = Math.ceil((Date.now() + 2 * lead) / minute) * minute - lead - Date.now();
  const s = h.serving;
  return new CronScheduler({
    store: s.store,
    runner: s.cron,
    claims,
    logger: s.logger,
    retryDelayMs: 200,
    now: () => Date.now() + offset,
  });
}

async function runs(tenant: string, ns: string): Promise<{ cron: string; scheduledTime: number }[]> {
  const entry = await h.serving.bindings.kv!.get({ tenant, namespace: ns }, 'runs');
  return entry ? JSON.parse(entry.value.toString()) : [];
}

async function admin(method: string, p: string) {
  const res = await request(`http://127.0.0.1:${h.serving.adminPort}${p}`, {
    method: method as 'POST',
    headers: { authorization: 'Bearer test-operator-token' },
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

test('a worker with only a scheduled handler deploys from its wrangler.toml, and its runs are observed', async () => {
  const { warnings } = await deployProject(h, 'cron-only', 'cron-only');
  assert.deepEqual(warnings, []);
  const claims = SqliteSlotClaims.inDataDir(path.join(h.dataDir, 'a'));
  const s = scheduler(claims);
  try {
    await s.start();
    assert.deepEqual(
      s.triggers('cron-only').map((t) => t.cron),
      ['* * * * *', '0 12 * * MON'],
    );
    const seen = await eventually(async () =>
      (await runs('cron-only', 'runs')).length >= 1 ? runs('cron-only', 'runs') : null,
    );
    assert.equal(seen![0]!.cron, '* * * * *');
    assert.equal(seen![0]!.scheduledTime % 60_000, 0, 'scheduledTime is the slot, on a minute boundary');
    const log = await h.waitForLog((r) => r.source === 'tenant' && r.tenant === 'cron-only');
    assert.match(String(log.msg), /^cron \* \* \* \* \* at \d{4}-/);
    const line = await h.waitForLog((r) => r.source === 'request' && r.tenant === 'cron-only');
    assert.equal(line.method, 'SCHEDULED');
    assert.equal(line.status, 204);
  } finally {
    s.stop();
    claims.close();
  }
  const scrape = await h.serving.metrics.scrape();
  assert.match(scrape.body, /islet_cron_runs_total\{tenant="cron-only",status="ok"\} 1/);
  const http = await h.get('cron-only.localhost', '/');
  assert.equal(http.status, 500, 'an HTTP request to a worker without fetch is an error');
});

test('two schedulers on one node (a worker and its replacement) run each slot once', async () => {
  await setBindings(h, 'cron-once', { kv_namespaces: [{ binding: 'RUNS', id: 'once' }], crons: ['* * * * *'] });
  await deployProject(h, 'cron-once', {
    'index.js': `export default {
      async scheduled(controller, env) {
        const runs = JSON.parse((await env.RUNS.get('runs')) ?? '[]');
        runs.push({ cron: controller.cron, scheduledTime: controller.scheduledTime });
        await env.RUNS.put('runs', JSON.stringify(runs));
      },
    };`,
  });
  const dir = path.join(h.dataDir, 'b');
  const claimsA = SqliteSlotClaims.inDataDir(dir);
  const claimsB = SqliteSlotClaims.inDataDir(dir);
  const [a, b] = [scheduler(claimsA, 300), scheduler(claimsB, 300)];
  try {
    await Promise.all([a.start(), b.start()]);
    await eventually(async () => (await runs('cron-once', 'once')).length >= 1);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal((await runs('cron-once', 'once')).length, 1, 'one run for the slot');
  } finally {
    a.stop();
    b.stop();
    claimsA.close();
    claimsB.close();
  }
});

test('a failed run runs once more, unless the handler called noRetry(); runs are cut at their own limits', async () => {
  await setBindings(h, 'cron-fail', { crons: ['* * * * *'] });
  await deployProject(h, 'cron-fail', {
    'index.js': `let runs = 0; export default {
      async scheduled(controller) { runs++; console.log('run ' + runs); throw new Error('boom ' + runs); },
    };`,
  });
  await setBindings(h, 'cron-noretry', { crons: ['* * * * *'] });
  await deployProject(h, 'cron-noretry', {
    'index.js': `let runs = 0; export default {
      async scheduled(controller) { runs++; console.log('run ' + runs); controller.noRetry(); throw new Error('no retry'); },
    };`,
  });
  await setBindings(h, 'cron-spin', { crons: ['* * * * *'] });
  await deployProject(h, 'cron-spin', { 'index.js': `export default { scheduled() { for (;;) {} } };` });
  const claims = SqliteSlotClaims.inDataDir(path.join(h.dataDir, 'c'));
  const s = scheduler(claims);
  const from = h.logs.length;
  try {
    await s.start();
    await eventually(() => h.logs.slice(from).some((r) => r.tenant === 'cron-fail' && r.msg === 'run 2'), 5000);
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    s.stop();
    claims.close();
  }
  const lines = (tenant: string) =>
    h.logs
      .slice(from)
      .filter((r) => r.tenant === tenant && r.source === 'tenant')
      .map((r) => r.msg);
  assert.deepEqual(lines('cron-fail'), ['run 1', 'run 2'], 'retried once');
  assert.deepEqual(lines('cron-noretry'), ['run 1'], 'noRetry() is honoured');
  const errors = h.logs.slice(from).filter((r) => r.tenant === 'cron-fail' && r.source === 'exception');
  assert.equal(errors.length, 2);
  assert.match(String(errors[0]!.msg), /boom 1/);
  const cut = h.logs.slice(from).filter((r) => r.tenant === 'cron-spin' && r.source === 'limit');
  assert.ok(cut.length >= 1 && cut.every((r) => r.limit === 'cpu'), 'cut for CPU at limits.cronCpuMs');
  const scrape = (await h.serving.metrics.scrape()).body;
  assert.match(scrape, /islet_cron_runs_total\{tenant="cron-fail",status="error"\} 2/);
  assert.match(scrape, /islet_cron_runs_total\{tenant="cron-spin",status="cpu"\} 2/);
});

test('POST /v1/tenants/{t}/scheduled runs the handler now, with the cron given (or the first declared)', async () => {
  await setBindings(h, 'cron-hand', { kv_namespaces: [{ binding: 'RUNS', id: 'hand' }], crons: ['*/5 * * * *'] });
  await deployProject(h, 'cron-hand', {
    'index.js': `export default {
      async scheduled(controller, env, ctx) {
        ctx.waitUntil(env.RUNS.put('runs', JSON.stringify([{ cron: controller.cron, scheduledTime: controller.scheduledTime }])));
      },
      fetch() { return new Response('also fetch'); },
    };`,
  });
  const given = await admin(
    'POST',
    `/v1/tenants/cron-hand/scheduled?cron=${encodeURIComponent('0 3 * * *')}&time=1700000000000`,
  );
  assert.equal(given.status, 200, JSON.stringify(given.body));
  assert.equal(given.body.outcome, 'ok');
  assert.deepEqual(await runs('cron-hand', 'hand'), [{ cron: '0 3 * * *', scheduledTime: 1700000000000 }]);
  const declared = await admin('POST', '/v1/tenants/cron-hand/scheduled');
  assert.equal(declared.body.cron, '*/5 * * * *');
  assert.equal((await runs('cron-hand', 'hand'))[0]!.cron, '*/5 * * * *');
  assert.equal((await h.get('cron-hand.localhost', '/')).text, 'also fetch');
  assert.equal((await admin('POST', '/v1/tenants/nobody/scheduled')).status, 404);
});

test('a classic script handles scheduled events through addEventListener', async () => {
  await setBindings(h, 'cron-script', { kv_namespaces: [{ binding: 'RUNS', id: 'script' }] });
  await deployProject(h, 'cron-script', {
    'index.js': `addEventListener('scheduled', (event) => {
      event.waitUntil(Promise.resolve().then(() => console.log('script cron ' + event.cron)));
    });`,
  });
  const from = h.logs.length;
  const res = await admin('POST', `/v1/tenants/cron-script/scheduled?cron=${encodeURIComponent('1 2 3 4 5')}`);
  assert.equal(res.body.outcome, 'ok', JSON.stringify(res.body));
  assert.ok(h.logs.slice(from).some((r) => r.tenant === 'cron-script' && r.msg === 'script cron 1 2 3 4 5'));
});
