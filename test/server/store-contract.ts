// The DeploymentStore contract, written once and run against every store (store-fs.test.ts,
// store-postgres.test.ts): what serving processes, the admin API and the change feed rely on.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { routeConflicts } from '../../server/deploy/routes';
import type { DeploymentManifest, DeploymentStore, LoggedChange, StoreChange } from '../../server/store/types';

export interface StoreFixture {
  store: DeploymentStore;
  /** another store on the same backend (another process or node would see it this way) */
  another(): Promise<DeploymentStore>;
  /** closes everything this fixture opened */
  close(): Promise<void>;
}

export const hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

export function deployment(
  tenant: string,
  id: string,
  source: string,
  routes: string[] = [],
  createdAt = new Date().toISOString(),
) {
  const code = Buffer.from(source);
  const map = Buffer.from('{"version":3,"sources":[],"mappings":""}');
  const manifest: DeploymentManifest = {
    id,
    tenant,
    hash: hex(code),
    createdAt,
    format: 'modules',
    entry: 'index.js',
    modules: [{ path: 'index.js', size: code.length, sha256: hex(code), sourceMap: 'index.js.map' }],
    routes,
    warnings: [],
    size: code.length,
  };
  return {
    manifest,
    files: new Map([
      ['index.js', code],
      ['index.js.map', map],
    ]),
  };
}

/** creates a tenant with one deployment of `routes`, not activated */
export async function tenantWith(
  store: DeploymentStore,
  tenant: string,
  id: string,
  routes: string[] = [],
): Promise<void> {
  if (!(await store.getTenant(tenant)))
    await store.putTenant({ name: tenant, createdAt: new Date().toISOString(), active: null });
  const d = deployment(
    tenant,
    id,
    `export default { fetch() { return new Response(${JSON.stringify(`${tenant}/${id}`)}) } }`,
    routes,
  );
  await store.putDeployment(d.manifest, d.files);
}

async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer!: NodeJS.Timeout;
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)),
  );
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function storeContract(name: string, open: () => Promise<StoreFixture>): void {
  const withStore = (title: string, body: (f: StoreFixture) => Promise<void>) =>
    test(title, async () => {
      const fixture = await open();
      try {
        await body(fixture);
      } finally {
        await fixture.close();
      }
    });

  describe(`${name}: the DeploymentStore contract`, () => {
    withStore(
      'stores tenants, deployments, env, tokens and code caches, and another store instance reads them',
      async ({ store, another }) => {
        await store.putTenant({
          name: 'shop',
          createdAt: '2026-01-01T00:00:00.000Z',
          active: null,
          limits: { cpuMs: 20 },
        });
        const d = deployment('shop', 'd1', 'export default { fetch() { return new Response("1") } }');
        await store.putDeployment(d.manifest, d.files);
        await store.activate('shop', 'd1');
        await store.putEnv('shop', { vars: { A: '1' }, secrets: { KEY: 's3cret' } });
        await store.putToken({
          id: 't1',
          tenant: 'shop',
          hash: hex('tok'),
          createdAt: new Date().toISOString(),
          description: 'ci',
        });
        await store.writeCodeCache('shop', 'd1', 'index.js', '11.3.244.8-node.19', Buffer.from([1, 2, 3]));

        const other = await another();
        assert.deepEqual(await other.getTenant('shop'), {
          name: 'shop',
          createdAt: '2026-01-01T00:00:00.000Z',
          active: 'd1',
          limits: { cpuMs: 20 },
        });
        assert.deepEqual(await other.getDeployment('shop', 'd1'), d.manifest);
        assert.equal(
          (await other.readFile('shop', 'd1', 'index.js')).toString(),
          'export default { fetch() { return new Response("1") } }',
        );
        assert.deepEqual(await other.readFile('shop', 'd1', 'index.js.map'), d.files.get('index.js.map'));
        assert.deepEqual(await other.deploymentFiles('shop', 'd1'), {
          'index.js': d.manifest.modules[0]!.sha256,
          'index.js.map': hex(d.files.get('index.js.map')!),
        });
        assert.deepEqual(await other.getEnv('shop'), { vars: { A: '1' }, secrets: { KEY: 's3cret' } });
        assert.deepEqual(await other.findTokenByHash(hex('tok')), {
          id: 't1',
          tenant: 'shop',
          hash: hex('tok'),
          createdAt: (await store.listTokens())[0]!.createdAt,
          description: 'ci',
        });
        assert.equal(await other.findTokenByHash(hex('nope')), null);
        // code caches are the writing node's: the same store reads them back, keyed by V8 version
        assert.deepEqual(
          await store.readCodeCache('shop', 'd1', 'index.js', '11.3.244.8-node.19'),
          Buffer.from([1, 2, 3]),
        );
        assert.equal(await store.readCodeCache('shop', 'd1', 'index.js', 'other-v8'), null);
        await assert.rejects(store.writeCodeCache('shop', 'nope', 'index.js', 'v8', Buffer.from([1])), {
          code: 'ISLET_STORE_NOT_FOUND',
        });
        // a limits update keeps createdAt and the pointer
        await store.putTenant({ name: 'shop', createdAt: '2030-01-01T00:00:00.000Z', active: null });
        assert.deepEqual(await other.getTenant('shop'), {
          name: 'shop',
          createdAt: '2026-01-01T00:00:00.000Z',
          active: 'd1',
        });
        assert.deepEqual(await other.getEnv('nobody'), { vars: {}, secrets: {} });
      },
    );

    withStore(
      'keeps custom hostname records per tenant: put, replace, list by name, delete',
      async ({ store, another }) => {
        await store.putTenant({ name: 'shop', createdAt: new Date().toISOString(), active: null });
        const pending = {
          tenant: 'shop',
          hostname: 'www.shop.example',
          token: 'tok_0123456789abcdef',
          verifiedBy: null,
          createdAt: '2026-01-01T00:00:00.000Z',
        } as const;
        const before = await store.currentRevision();
        await store.putHostname(pending);
        await store.putHostname({ ...pending, hostname: '*.shop.example', verifiedBy: 'operator', verifiedAt: 'x' });
        await store.putHostname({ ...pending, verifiedBy: 'dns', verifiedAt: '2026-01-02T00:00:00.000Z' });
        const other = await another();
        assert.deepEqual(await other.listHostnames('shop'), [
          { ...pending, hostname: '*.shop.example', verifiedBy: 'operator', verifiedAt: 'x' },
          { ...pending, verifiedBy: 'dns', verifiedAt: '2026-01-02T00:00:00.000Z' },
        ]);
        const changes = await store.changesSince(before);
        assert.deepEqual(
          changes.map((c) => c.kind),
          ['hostname', 'hostname', 'hostname'],
        );
        await store.deleteHostname('shop', '*.shop.example');
        assert.deepEqual(
          (await other.listHostnames('shop')).map((h) => h.hostname),
          ['www.shop.example'],
        );
        await assert.rejects(store.deleteHostname('shop', 'nope.example'), { code: 'ISLET_STORE_NOT_FOUND' });
        await assert.rejects(store.putHostname({ ...pending, hostname: 'Not A Host' }), {
          code: 'ISLET_STORE_INVALID_NAME',
        });
        await assert.rejects(store.putHostname({ ...pending, tenant: 'ghost' }), { code: 'ISLET_STORE_NOT_FOUND' });
        assert.deepEqual(await store.listHostnames('ghost'), []);
        await store.deleteTenant('shop');
        await store.putTenant({ name: 'shop', createdAt: new Date().toISOString(), active: null });
        assert.deepEqual(await other.listHostnames('shop'), [], 'they go with the tenant');
      },
    );

    withStore('lists tenants by name and deployments newest first, ids breaking ties', async ({ store }) => {
      for (const t of ['zeta', 'alpha', 'mid-1'])
        await store.putTenant({ name: t, createdAt: new Date().toISOString(), active: null });
      assert.deepEqual(
        (await store.listTenants()).map((t) => t.name),
        ['alpha', 'mid-1', 'zeta'],
      );
      const same = '2026-02-02T00:00:00.000Z';
      for (const [id, at] of [
        ['b', same],
        ['a', same],
        ['Z', same],
        ['old', '2025-01-01T00:00:00.000Z'],
        ['new', '2027-01-01T00:00:00.000Z'],
      ] as const) {
        const d = deployment('alpha', id, `// ${id}`, [], at);
        await store.putDeployment(d.manifest, d.files);
      }
      // ties by id, descending in code-unit order ('Z' < 'a' < 'b'), whatever the database collation
      assert.deepEqual(
        (await store.listDeployments('alpha')).map((m) => m.id),
        ['new', 'b', 'a', 'Z', 'old'],
      );
      assert.deepEqual(await store.listDeployments('zeta'), []);
    });

    withStore('refuses to delete the active deployment, deletes others, rolls back by pointer', async ({ store }) => {
      await tenantWith(store, 'a', 'v1');
      await tenantWith(store, 'a', 'v2');
      await store.activate('a', 'v2');
      await assert.rejects(store.deleteDeployment('a', 'v2'), { code: 'ISLET_STORE_ACTIVE_DEPLOYMENT' });
      await store.activate('a', 'v1');
      assert.equal((await store.getTenant('a'))?.active, 'v1');
      await store.deleteDeployment('a', 'v2');
      assert.deepEqual(
        (await store.listDeployments('a')).map((m) => m.id),
        ['v1'],
      );
      await assert.rejects(store.activate('a', 'v2'), { code: 'ISLET_STORE_NOT_FOUND' });
      await assert.rejects(store.readFile('a', 'v2', 'index.js'), { code: 'ISLET_STORE_NOT_FOUND' });
      await assert.rejects(store.deleteDeployment('a', 'v2'), { code: 'ISLET_STORE_NOT_FOUND' });
      await assert.rejects(store.activate('ghost', 'v1'), { code: 'ISLET_STORE_NOT_FOUND' });
    });

    withStore('refuses bad names, mismatching files, duplicates and writes for missing tenants', async ({ store }) => {
      await assert.rejects(store.putTenant({ name: '../etc', createdAt: '', active: null }), {
        code: 'ISLET_STORE_INVALID_NAME',
      });
      await assert.rejects(store.getDeployment('ok', '../../x'), { code: 'ISLET_STORE_INVALID_NAME' });
      const orphan = deployment('ok', 'd0', 'x');
      await assert.rejects(store.putDeployment(orphan.manifest, orphan.files), { code: 'ISLET_STORE_NOT_FOUND' });
      await assert.rejects(store.putEnv('ok', { vars: {}, secrets: {} }), { code: 'ISLET_STORE_NOT_FOUND' });
      await assert.rejects(
        store.putToken({ id: 'tk', tenant: 'ok', hash: hex('x'), createdAt: new Date().toISOString() }),
        { code: 'ISLET_STORE_NOT_FOUND' },
      );
      await store.putTenant({ name: 'ok', createdAt: new Date().toISOString(), active: null });
      const tampered = deployment('ok', 'd1', 'x');
      tampered.files.set('index.js', Buffer.from('tampered'));
      await assert.rejects(store.putDeployment(tampered.manifest, tampered.files), { code: 'ISLET_STORE_CORRUPT' });
      const escaping = deployment('ok', 'd2', 'x');
      escaping.files.set('../escape.js', Buffer.from('x'));
      await assert.rejects(store.putDeployment(escaping.manifest, escaping.files), {
        code: 'ISLET_STORE_INVALID_NAME',
      });
      const d = deployment('ok', 'd3', 'x');
      await store.putDeployment(d.manifest, d.files);
      await assert.rejects(store.putDeployment(d.manifest, d.files), { code: 'ISLET_STORE_CONFLICT' });
      await store.putToken({ id: 'tk', tenant: 'ok', hash: hex('x'), createdAt: new Date().toISOString() });
      await assert.rejects(
        store.putToken({ id: 'tk2', tenant: 'ok', hash: hex('x'), createdAt: new Date().toISOString() }),
        { code: 'ISLET_STORE_CONFLICT' },
      );
      await assert.rejects(store.deleteToken('missing'), { code: 'ISLET_STORE_NOT_FOUND' });
      // nothing refused left a change behind
      const kinds = (await store.changesSince(0)).map((c) => c.kind);
      assert.deepEqual(kinds, ['tenant', 'deployment', 'token']);
    });

    withStore(
      'deleting a deployment keeps files another deployment shares; deleting a tenant takes everything',
      async ({ store }) => {
        await tenantWith(store, 'gc', 'a');
        await tenantWith(store, 'gc', 'b', ['gc.example.com/*']);
        await store.activate('gc', 'b');
        await store.deleteDeployment('gc', 'a');
        // both carried the same source map: b's stays readable
        assert.equal(
          (await store.readFile('gc', 'b', 'index.js.map')).toString(),
          '{"version":3,"sources":[],"mappings":""}',
        );
        await store.putEnv('gc', { vars: { A: '1' }, secrets: { B: '2' } });
        await store.putToken({ id: 'tk', tenant: 'gc', hash: hex('gc'), createdAt: new Date().toISOString() });
        await store.deleteTenant('gc');
        assert.equal(await store.getTenant('gc'), null);
        assert.deepEqual(await store.listDeployments('gc'), []);
        assert.deepEqual(await store.listTokens('gc'), []);
        assert.equal(await store.findTokenByHash(hex('gc')), null);
        assert.deepEqual(await store.getEnv('gc'), { vars: {}, secrets: {} });
        await assert.rejects(store.deleteTenant('gc'), { code: 'ISLET_STORE_NOT_FOUND' });
        // its route is free again
        await tenantWith(store, 'next', 'n1', ['gc.example.com/*']);
        await store.activate('next', 'n1');
      },
    );

    withStore('every write logs one change with the next revision; failed writes log none', async ({ store }) => {
      assert.equal(await store.currentRevision(), 0);
      const revisions = [
        await store.putTenant({ name: 'log', createdAt: new Date().toISOString(), active: null }),
        await store.putTenant({ name: 'log', createdAt: new Date().toISOString(), active: null, limits: { cpuMs: 9 } }),
      ];
      const d = deployment('log', 'd1', 'x');
      revisions.push(await store.putDeployment(d.manifest, d.files));
      revisions.push(await store.activate('log', 'd1'));
      revisions.push(await store.putEnv('log', { vars: { A: '1' }, secrets: {} }));
      revisions.push(
        await store.putToken({ id: 'tk', tenant: 'log', hash: hex('log'), createdAt: new Date().toISOString() }),
      );
      revisions.push(await store.deleteToken('tk'));
      await assert.rejects(store.activate('log', 'missing'));
      revisions.push(await store.deleteTenant('log'));
      assert.deepEqual(revisions, [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.equal(await store.currentRevision(), 8);
      const changes = await store.changesSince(0);
      assert.deepEqual(
        changes.map(({ revision, tenant, kind }) => ({ revision, tenant, kind })),
        ['tenant', 'limits', 'deployment', 'activation', 'env', 'token', 'token', 'tenant'].map((kind, i) => ({
          revision: i + 1,
          tenant: 'log',
          kind,
        })),
      );
      for (const change of changes)
        assert.ok(Math.abs(Date.parse(change.at) - Date.now()) < 60_000, `${change.at} is a recent ISO time`);
      assert.deepEqual(
        (await store.changesSince(6)).map((c) => c.revision),
        [7, 8],
      );
      assert.deepEqual(
        (await store.changesSince(2, 3)).map((c) => c.revision),
        [3, 4, 5],
      );
      assert.deepEqual(await store.changesSince(8), []);
    });

    withStore(
      'a feed delivers every change once, in order, with no gaps, including those of other writers',
      async ({ store, another }) => {
        const other = await another();
        await store.putTenant({ name: 'f', createdAt: new Date().toISOString(), active: null });
        const feed = store.openFeed({ from: 0, pollMs: 200 });
        const seen: LoggedChange[] = [];
        feed.onChange((c) => void seen.push(c));
        await feed.start();
        assert.equal(feed.revision, 1);
        // two writers at once, each its own instance (its own process or node in production)
        const writes = await Promise.all([
          (async () => {
            const out: number[] = [];
            for (let i = 0; i < 25; i++) out.push(await store.putEnv('f', { vars: { I: String(i) }, secrets: {} }));
            return out;
          })(),
          (async () => {
            const out: number[] = [];
            for (let i = 0; i < 25; i++)
              out.push(await other.putTenant({ name: 'f', createdAt: '', active: null, limits: { cpuMs: i + 1 } }));
            return out;
          })(),
        ]);
        const written = writes.flat().sort((a, b) => a - b);
        assert.equal(new Set(written).size, 50, 'every write got its own revision');
        assert.ok(await within(10_000, 'feed catching up', feed.waitFor(written.at(-1)!, 10_000)));
        const revisions = seen.map((c) => c.revision);
        assert.deepEqual(
          revisions,
          (await store.changesSince(0, 10_000)).map((c) => c.revision),
          'the log, in order',
        );
        assert.deepEqual(
          revisions,
          [...revisions].sort((a, b) => a - b),
        );
        for (const r of written) assert.ok(revisions.includes(r), `revision ${r} delivered`);
        assert.equal(feed.stats().lastError, null);
        await feed.close();
      },
    );

    withStore('a feed that missed 1,000 changes catches up, in order', async ({ store }) => {
      await store.putTenant({ name: 'bulk', createdAt: new Date().toISOString(), active: null });
      const from = await store.currentRevision();
      const writers = 4;
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          for (let i = 0; i < 1000 / writers; i++)
            await store.putEnv('bulk', { vars: { W: String(w), I: String(i) }, secrets: {} });
        }),
      );
      const feed = store.openFeed({ from });
      let count = 0;
      let last = from;
      feed.onChange((c) => {
        assert.equal(c.revision, last + 1, 'no gap');
        last = c.revision;
        count++;
      });
      const started = process.hrtime.bigint();
      await feed.start();
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      assert.equal(count, 1000);
      assert.equal(feed.revision, from + 1000);
      console.log(`# ${name}: a feed caught up on 1,000 missed changes in ${ms.toFixed(1)} ms`);
      await feed.close();
    });

    withStore(
      'watch() hears activations, env, limits and tenant changes of another instance, not uploads',
      async ({ store, another }) => {
        const other = await another();
        await tenantWith(store, 'w', 'd1');
        const seen: StoreChange[] = [];
        let wake: () => void = () => {};
        const stop = store.watch((change) => {
          seen.push({ tenant: change.tenant, kind: change.kind });
          wake();
        });
        const next = (n: number) =>
          within(
            10_000,
            `${n} watched changes`,
            new Promise<void>((resolve) => {
              wake = () => seen.length >= n && resolve();
              wake();
            }),
          );
        await other.activate('w', 'd1');
        await next(1);
        await tenantWith(other, 'w', 'd2'); // an upload: not watched
        await other.putEnv('w', { vars: { A: '1' }, secrets: {} });
        await other.putTenant({ name: 'w', createdAt: '', active: null, limits: { cpuMs: 5 } });
        await other.activate('w', 'd2');
        await other.deleteTenant('w');
        await next(5);
        stop();
        assert.deepEqual(seen, [
          { tenant: 'w', kind: 'activation' },
          { tenant: 'w', kind: 'env' },
          { tenant: 'w', kind: 'limits' },
          { tenant: 'w', kind: 'activation' },
          { tenant: 'w', kind: 'tenant' },
        ]);
      },
    );

    withStore(
      'routes: claimed at activation; the same or an overlapping route of another tenant is refused',
      async ({ store }) => {
        const overlap = { conflicts: routeConflicts() };
        await tenantWith(store, 'owner', 'o1', ['pay.example.com/*', 'shop.example.com/api*']);
        await store.activate('owner', 'o1', overlap);
        await tenantWith(store, 'thief', 't1', ['PAY.example.com/*']);
        await assert.rejects(store.activate('thief', 't1', overlap), {
          code: 'ISLET_STORE_ROUTE_TAKEN',
          message: "route 'PAY.example.com/*' is already served by tenant 'owner'",
        });
        // the very same route is refused even to an operator's nested policy
        await assert.rejects(store.activate('thief', 't1', { conflicts: routeConflicts({ nested: true }) }), {
          code: 'ISLET_STORE_ROUTE_TAKEN',
        });
        await assert.rejects(store.activate('thief', 't1'), { code: 'ISLET_STORE_ROUTE_TAKEN' });
        await tenantWith(store, 'thief', 't2', ['shop.example.com/api/v2*']);
        await assert.rejects(store.activate('thief', 't2', overlap), {
          code: 'ISLET_STORE_ROUTE_TAKEN',
          message: "route 'shop.example.com/api/v2*' overlaps route 'shop.example.com/api*' served by tenant 'owner'",
        });
        await tenantWith(store, 'thief', 't3', ['*.example.com/*']);
        await assert.rejects(store.activate('thief', 't3', overlap), { code: 'ISLET_STORE_ROUTE_TAKEN' });
        assert.equal((await store.getTenant('thief'))?.active, null, 'a refused activation changes nothing');
        // nesting is the operator's choice
        await store.activate('thief', 't2', { conflicts: routeConflicts({ nested: true }) });
        // re-activating its own routes now meets the nested route: refused under the overlap policy
        await assert.rejects(store.activate('owner', 'o1', overlap), { code: 'ISLET_STORE_ROUTE_TAKEN' });
        assert.equal((await store.getTenant('owner'))?.active, 'o1');
        // moving to a deployment without routes frees them
        await tenantWith(store, 'owner', 'o2', []);
        await store.activate('owner', 'o2', overlap);
        await store.activate('thief', 't1', overlap);
        assert.equal((await store.getTenant('thief'))?.active, 't1');
      },
    );

    withStore('routes: of two racing activations claiming one route, exactly one wins', async ({ store, another }) => {
      const other = await another();
      const overlap = { conflicts: routeConflicts() };
      for (let round = 0; round < 8; round++) {
        const route = `race${round}.example.com/*`;
        await tenantWith(store, `left-${round}`, 'l', [route]);
        await tenantWith(store, `right-${round}`, 'r', [round % 2 ? `${route.slice(0, -1)}deep*` : route]);
        const results = await Promise.allSettled([
          store.activate(`left-${round}`, 'l', overlap),
          other.activate(`right-${round}`, 'r', overlap),
        ]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
        assert.equal(won.length, 1, `round ${round}: exactly one activation wins`);
        assert.equal(lost[0]!.reason.code, 'ISLET_STORE_ROUTE_TAKEN');
        const active = [await store.getTenant(`left-${round}`), await store.getTenant(`right-${round}`)].filter(
          (t) => t?.active,
        );
        assert.equal(active.length, 1, `round ${round}: one tenant serves the route`);
      }
    });

    withStore('health() is ok with the current revision', async ({ store }) => {
      await store.putTenant({ name: 'h', createdAt: new Date().toISOString(), active: null });
      const health = await store.health();
      assert.equal(health.state, 'ok');
      assert.equal(health.revision, 1);
    });
  });
}
