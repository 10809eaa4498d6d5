// Memory per idle tenant: one islet process with N tenants (functions/hello each), every one
// warmed by one real HTTP request, then left idle. Prints one JSON line: RSS before and after
// warming (after GC), and the pool's sampled heap sizes.
// Usage: node --no-node-snapshot --expose-gc memory-child.js <tenants> <dataDir>
import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { loadConfig } from '../../server/config';
import { Logger } from '../../server/observe/server-log';
import { startServing } from '../../server/cli/serve';
import { FsDeploymentStore } from '../../server/store/fs';
import { publish } from '../../server/deploy/publish';
import { readDirectory } from '../../server/deploy/directory';
import { prepareDeployment } from '../../server/tenants/prepare';
import { v8Version } from '../../server/host/isolate-api';

const settle = async () => {
  for (let i = 0; i < 3; i++) {
    global.gc?.();
    await new Promise((r) => setTimeout(r, 100));
  }
};

async function main(): Promise<void> {
  const count = Number(process.argv[2]);
  const dataDir = process.argv[3]!;
  const root = path.resolve(__dirname, '../../..');
  // Build and prepare hello once, then store the same deployment for every tenant (what 1,000
  // uploads of it would leave in the store, without 1,000 builds).
  const store = new FsDeploymentStore(dataDir);
  const { manifest } = await publish(
    { store, prepare: (m, f) => prepareDeployment(m, f) },
    't0',
    readDirectory(path.join(root, 'functions', 'hello')),
  );
  const files = new Map<string, Buffer>();
  for (const m of manifest.modules) {
    files.set(m.path, await store.readFile('t0', manifest.id, m.path));
    if (m.sourceMap) files.set(m.sourceMap, await store.readFile('t0', manifest.id, m.sourceMap));
  }
  const cache = await store.readCodeCache('t0', manifest.id, manifest.entry, v8Version);
  for (let i = 1; i < count; i++) {
    const tenant = `t${i}`;
    await store.putTenant({ name: tenant, createdAt: new Date().toISOString(), active: null });
    await store.putDeployment({ ...manifest, tenant }, files);
    if (cache) await store.writeCodeCache(tenant, manifest.id, manifest.entry, v8Version, cache);
    await store.activate(tenant, manifest.id);
  }
  await store.close();

  const config = loadConfig({
    env: {
      ISLET_PORT: '0',
      ISLET_HOST: '127.0.0.1',
      ISLET_ADMIN_PORT: '0',
      ISLET_DATA_DIR: dataDir,
      ISLET_ADMIN_TOKEN: 'bench',
      ISLET_LOG_REQUESTS: 'false',
      ISLET_LOG_LEVEL: 'warn',
    },
  });
  const serving = await startServing({ config, logger: new Logger('warn', () => {}) });
  const url = `http://127.0.0.1:${serving.tenantPort}/`;
  // one request first so the shim bootstrap's cache and Node's own lazy state exist before the baseline
  await (await request(url, { headers: { host: 't0.localhost' } })).body.text();
  await settle();
  const before = process.memoryUsage();
  const started = Date.now();
  let ok = 0;
  for (let i = 1; i < count; i++) {
    const res = await request(url, { headers: { host: `t${i}.localhost` } });
    await res.body.text();
    if (res.statusCode === 200) ok++;
  }
  const warmMs = Date.now() - started;
  await settle();
  await serving.pool.sweep();
  const after = process.memoryUsage();
  const samples = serving.pool.samples();
  const heap = samples.reduce((s, x) => s + x.heapUsedBytes + x.externalBytes, 0);
  console.log(
    JSON.stringify({
      tenants: count - 1,
      ok,
      warmIsolates: samples.length,
      rssBeforeBytes: before.rss,
      rssAfterBytes: after.rss,
      rssPerTenantBytes: (after.rss - before.rss) / (count - 1),
      isolateHeapPerTenantBytes: heap / samples.length,
      warmSeconds: warmMs / 1000,
    }),
  );
  await serving.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
