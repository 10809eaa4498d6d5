// The isolate pool seen from outside: cold start then warm reuse, eviction, redeploy while
// requests are in flight, code cache reused across a restart, deployments refused at deploy time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startHarness, eventually } from './serve-harness';
import { prepareDeployment } from '../../server/tenants/prepare';
import { DeploymentLoadError } from '../../server/errors';
import type { DeploymentManifest } from '../../server/store/types';
import path from 'node:path';
import { fixtures } from './serve-harness';

const requestLines = (logs: Record<string, unknown>[], tenant: string) =>
  logs.filter((r) => r.msg === 'request' && r.tenant === tenant);

test('the first request starts the isolate cold, the next ones reuse it warm', async () => {
  const h = await startHarness();
  try {
    await h.deploy('slow', 'slow.js');
    assert.equal((await h.get('slow.localhost', '/')).text, 'VERSION 1');
    assert.equal((await h.get('slow.localhost', '/')).text, 'VERSION 2', 'same isolate: module state is kept');
    const lines = await eventually(() =>
      requestLines(h.logs, 'slow').length >= 2 ? requestLines(h.logs, 'slow') : null,
    );
    assert.deepEqual(
      lines!.map((l) => l.cold),
      [true, false],
    );
  } finally {
    await h.close();
  }
});

test('past the isolate count bound the least recently used isolate is evicted and disposed', async () => {
  const h = await startHarness((config) => {
    config.pool.maxIsolates = 1;
  });
  try {
    await h.deploy('one', 'slow.js');
    await h.deploy('two', 'slow.js');
    assert.equal((await h.get('one.localhost', '/')).text, 'VERSION 1');
    assert.equal((await h.get('two.localhost', '/')).text, 'VERSION 1');
    const retired = await h.waitForLog((r) => r.msg === 'isolate retired' && r.tenant === 'one');
    assert.equal(retired.reason, 'count');
    assert.equal((await h.get('one.localhost', '/')).text, 'VERSION 1', 'a fresh isolate after eviction');
    assert.equal(h.serving.pool.size, 1);
  } finally {
    await h.close();
  }
});

test('idle isolates are evicted after the idle timeout', async () => {
  const h = await startHarness((config) => {
    config.pool.idleTimeoutS = 1;
  });
  try {
    await h.deploy('idle', 'slow.js');
    await h.get('idle.localhost', '/');
    assert.equal(h.serving.pool.size, 1);
    const retired = await h.waitForLog((r) => r.msg === 'isolate retired' && r.tenant === 'idle', 5000);
    assert.equal(retired.reason, 'idle');
    assert.equal(h.serving.pool.size, 0);
  } finally {
    await h.close();
  }
});

test('past the total memory bound, idle isolates are evicted least recently used first', async () => {
  const h = await startHarness((config) => {
    config.pool.maxMemoryMb = 16;
    // filling 32 MB of arrays is CPU work that a busy machine can stretch past the default
    // 50 ms; this test is about memory, not CPU
    config.limits.cpuMs = 2000;
  });
  try {
    await h.deploy('small', 'slow.js');
    await h.deploy('fat', {
      'index.js':
        'const keep = [];\nexport default { fetch() { for (let i = 0; i < 40; i++) keep.push(new Array(100000).fill(i)); return new Response(String(keep.length)); } };',
    });
    assert.equal((await h.get('fat.localhost', '/')).text, '40'); // ~32 MB of heap kept in the isolate
    assert.equal((await h.get('small.localhost', '/')).status, 200);
    const retired = await h.waitForLog((r) => r.msg === 'isolate retired' && r.reason === 'memory_pressure', 5000);
    assert.equal(retired.tenant, 'fat', 'the isolate holding the memory goes, not the small neighbour');
    assert.equal((await h.get('fat.localhost', '/')).text, '40', 'a fresh isolate on the next request');
  } finally {
    await h.close();
  }
});

test('a redeploy while requests are in flight: none fails, the old isolate drains, new requests see the new code', async () => {
  const h = await startHarness();
  try {
    const code = fs.readFileSync(path.join(fixtures, 'slow.js'), 'utf8');
    await h.deploy('live', { 'index.js': code.replace("'VERSION '", "'v1 '") });
    await h.get('live.localhost', '/');
    const inFlight = Array.from({ length: 20 }, () => h.get('live.localhost', '/?ms=400'));
    await new Promise((r) => setTimeout(r, 100));
    await h.deploy('live', { 'index.js': code.replace("'VERSION '", "'v2 '") });
    const results = await Promise.all(inFlight);
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.match(r.text, /^v1 /, 'requests already in flight finish on the old isolate');
    }
    await eventually(async () => /^v2 /.test((await h.get('live.localhost', '/')).text), 5000);
    const retired = await h.waitForLog((r) => r.msg === 'isolate retired' && r.tenant === 'live');
    assert.equal(retired.reason, 'redeploy');
  } finally {
    await h.close();
  }
});

test('after a restart the stored code cache is used (code cache hit counted)', async () => {
  const first = await startHarness();
  const dataDir = first.dataDir;
  try {
    await first.deploy('cached', 'slow.js');
    assert.equal((await first.get('cached.localhost', '/')).status, 200);
  } finally {
    await first.close();
  }
  const second = await startHarness(() => {}, dataDir);
  try {
    assert.equal((await second.get('cached.localhost', '/')).text, 'VERSION 1');
    const { body } = await second.serving.metrics.scrape();
    const hits = /islet_code_cache_total\{result="hit"\} (\d+)/.exec(body);
    assert.ok(
      hits && Number(hits[1]) >= 1,
      `expected a code cache hit, metrics say:\n${body
        .split('\n')
        .filter((l) => l.includes('code_cache'))
        .join('\n')}`,
    );
  } finally {
    await second.close();
  }
});

function manifestFor(file: string): { manifest: DeploymentManifest; files: Map<string, Buffer> } {
  const code = fs.readFileSync(path.join(fixtures, file));
  const manifest: DeploymentManifest = {
    id: 'd1',
    tenant: 't',
    hash: 'h',
    createdAt: new Date().toISOString(),
    format: 'modules',
    entry: 'index.js',
    modules: [{ path: 'index.js', size: code.length, sha256: '' }],
    routes: [],
    warnings: [],
    size: code.length,
  };
  return { manifest, files: new Map([['index.js', code]]) };
}

test('prepareDeployment refuses endless top-level code and a missing fetch handler, and returns code caches', async () => {
  const endless = manifestFor('endless-top-level.js');
  await assert.rejects(
    prepareDeployment(endless.manifest, endless.files, { startupTimeoutMs: 100 }),
    (err: unknown) =>
      err instanceof DeploymentLoadError &&
      err.code === 'ISLET_STARTUP_TIMEOUT' &&
      /index\.js did not finish within 100 ms/.test(err.message),
  );
  const none = manifestFor('no-handler.js');
  await assert.rejects(
    prepareDeployment(none.manifest, none.files),
    (err: unknown) => err instanceof DeploymentLoadError && err.code === 'ISLET_NO_FETCH_HANDLER',
  );
  const ok = manifestFor('slow.js');
  const caches = await prepareDeployment(ok.manifest, ok.files);
  assert.ok((caches.get('index.js')?.length ?? 0) > 0, 'a code cache for the entry module');
});
