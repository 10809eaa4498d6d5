// Tenant isolates from the shim bootstrap's startup snapshot (issue 21): the snapshot is made
// once and stored under a name keyed by Node, V8 and the bootstrap's hash; isolates made from it
// serve requests with their own env and bridge; a snapshot that cannot be made or loaded leaves
// the process on the code-cache path with a warning.
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  bootstrapSnapshot,
  createTenantIsolate,
  resetBootstrapSnapshot,
  snapshotFileName,
  snapshotState,
  snapshotWanted,
} from '../../server/host/bootstrap-snapshot';
import { bootstrapSource, runBootstrap, type BootstrapStats } from '../../server/host/bootstrap';
import { createSandbox } from '../../server/host/sandbox';
import { isolateApi } from '../../server/host/isolate-api';
import type { SandboxOptions, TenantLogRecord } from '../../server/host/types';
import { fetchText, loadModule, request, testLimits, type TestSandbox } from '../shims/helpers';

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-snapshot-'));
  dirs.push(dir);
  return dir;
}

// the snapshot is off unless asked for (see server/host/bootstrap-snapshot.ts for why)
const wanted = process.env.ISLET_BOOTSTRAP_SNAPSHOT;
process.env.ISLET_BOOTSTRAP_SNAPSHOT = 'on';

afterEach(() => {
  resetBootstrapSnapshot();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function sandboxIn(env: Record<string, unknown>, warn?: (message: string) => void): TestSandbox {
  const isolate = createTenantIsolate({ memoryLimit: 64 }, warn);
  const logs: TenantLogRecord[] = [];
  const options: SandboxOptions = {
    tenant: 'snap',
    deployment: 'd1',
    env,
    limits: testLimits,
    egress: { allow: [] },
    log: (record) => logs.push(record),
  };
  const sandbox = createSandbox(isolate, options);
  return {
    isolate,
    sandbox,
    logs,
    close() {
      sandbox.dispose();
      if (!isolate.isDisposed) isolate.dispose();
    },
  };
}

const echoEnv = `export default {
  async fetch(request, env) {
    console.log('seen', new URL(request.url).pathname);
    globalThis.hits = (globalThis.hits ?? 0) + 1;
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode('x'));
    return Response.json({
      name: env.NAME,
      hits: globalThis.hits,
      installLeft: Object.getOwnPropertyNames(globalThis).filter((n) => n.startsWith('__islet')),
      digest: new Uint8Array(digest).length,
      random: crypto.getRandomValues(new Uint8Array(8)).join(','),
      transfer: typeof ArrayBuffer.prototype.transfer,
    });
  },
};`;

test('the snapshot is stored once under its key; stale ones are removed; isolates from it serve', async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'bootstrap-0.0.0-old.bin'), 'an older build');
  resetBootstrapSnapshot({ dir });
  const first = sandboxIn({ NAME: 'first' });
  const second = sandboxIn({ NAME: 'second' });
  try {
    const file = path.join(dir, snapshotFileName(bootstrapSource()));
    assert.deepEqual(fs.readdirSync(dir), [path.basename(file)], 'only the current snapshot is kept');
    assert.match(
      path.basename(file),
      new RegExp(`${process.versions.node}.*${process.versions.v8.replace(/\./g, '\\.')}`),
    );
    assert.deepEqual(snapshotState(), { used: true, file });
    loadModule(first, echoEnv);
    loadModule(second, echoEnv);
    const a = JSON.parse((await fetchText(first, request('http://a.test/one'))).text);
    const again = JSON.parse((await fetchText(first, request('http://a.test/two'))).text);
    const b = JSON.parse((await fetchText(second, request('http://b.test/three'))).text);
    // env is handed in after creation, per isolate; state is each isolate's own
    assert.equal(a.name, 'first');
    assert.equal(b.name, 'second');
    assert.equal(again.hits, 2);
    assert.equal(b.hits, 1);
    // the install function's global is gone before tenant code runs
    assert.deepEqual(a.installLeft, []);
    assert.equal(a.digest, 32);
    assert.notEqual(a.random, b.random, 'randomness is not frozen into the snapshot');
    assert.equal(a.transfer, 'function', "the process's V8 features apply to snapshot contexts");
    // the bridge works: console.log reached the host
    assert.ok(first.logs.some((record) => record.message.includes('seen /one')));
  } finally {
    first.close();
    second.close();
  }
});

test('a stored snapshot is read, not made again; a damaged one is made again', () => {
  const dir = tempDir();
  let made = 0;
  const make = (source: string) => {
    made++;
    return isolateApi().Isolate.createSnapshot([
      { code: `globalThis.__isletBootstrapInstall = ${source}`, filename: 'islet:runtime-shims/bootstrap.js' },
    ]);
  };
  resetBootstrapSnapshot({ dir, make });
  assert.ok(bootstrapSnapshot());
  assert.equal(made, 1);
  const file = path.join(dir, snapshotFileName(bootstrapSource()));
  resetBootstrapSnapshot({ dir, make });
  assert.ok(bootstrapSnapshot());
  assert.equal(made, 1, 'the file was used');
  fs.writeFileSync(file, Buffer.from('damaged'));
  resetBootstrapSnapshot({ dir, make });
  assert.ok(bootstrapSnapshot());
  assert.equal(made, 2, 'a file that does not load is made again');
  assert.ok(fs.statSync(file).size > 1000);
});

test('a snapshot that cannot be made or loaded: one warning, isolates compile the bootstrap instead', async () => {
  const warnings: string[] = [];
  for (const make of [
    () => {
      throw new Error('the child process died');
    },
    // a real snapshot, but without the bootstrap in it
    () => isolateApi().Isolate.createSnapshot([{ code: 'globalThis.other = 1' }]),
    // bytes that are no snapshot at all
    () => new (isolateApi().ExternalCopy)(new ArrayBuffer(64)),
  ]) {
    resetBootstrapSnapshot({ dir: tempDir(), make });
    warnings.length = 0;
    const t = sandboxIn({ NAME: 'fallback' }, (message) => warnings.push(message));
    const u = sandboxIn({ NAME: 'fallback' }, (message) => warnings.push(message));
    try {
      assert.equal(warnings.length, 1, `one warning, got ${JSON.stringify(warnings)}`);
      assert.match(warnings[0]!, /snapshot could not be made or loaded.*code cache/);
      assert.equal(snapshotState().used, false);
      loadModule(t, echoEnv);
      const answer = JSON.parse((await fetchText(t, request('http://a.test/'))).text);
      assert.equal(answer.name, 'fallback');
      assert.deepEqual(answer.installLeft, []);
    } finally {
      t.close();
      u.close();
    }
  }
});

test('runBootstrap says where the bootstrap came from', () => {
  resetBootstrapSnapshot({ dir: tempDir() });
  const { Isolate } = isolateApi();
  for (const [isolate, expected] of [
    [createTenantIsolate({ memoryLimit: 32 }), true],
    [new Isolate({ memoryLimit: 32 }), false],
  ] as const) {
    try {
      const stats: BootstrapStats = { cacheHit: false };
      runBootstrap(isolate, isolate.createContextSync(), true, stats).release();
      assert.equal(stats.fromSnapshot, expected);
    } finally {
      isolate.dispose();
    }
  }
});

test('ISLET_BOOTSTRAP_SNAPSHOT takes on or off (the default), and names itself when it is neither', () => {
  assert.equal(snapshotWanted({}), false);
  assert.equal(snapshotWanted({ ISLET_BOOTSTRAP_SNAPSHOT: 'off' }), false);
  assert.equal(snapshotWanted({ ISLET_BOOTSTRAP_SNAPSHOT: 'on' }), true);
  assert.throws(
    () => snapshotWanted({ ISLET_BOOTSTRAP_SNAPSHOT: 'maybe' }),
    /ISLET_BOOTSTRAP_SNAPSHOT must be on or off/,
  );
});

test('with the snapshot off, tenant isolates compile the bootstrap and nothing is stored', () => {
  const dir = tempDir();
  process.env.ISLET_BOOTSTRAP_SNAPSHOT = 'off';
  try {
    resetBootstrapSnapshot({ dir });
    const isolate = createTenantIsolate({ memoryLimit: 32 });
    try {
      const stats: BootstrapStats = { cacheHit: false };
      runBootstrap(isolate, isolate.createContextSync(), true, stats).release();
      assert.equal(stats.fromSnapshot, false);
      assert.deepEqual(snapshotState(), { used: false, file: null, reason: 'ISLET_BOOTSTRAP_SNAPSHOT=off' });
      assert.deepEqual(fs.readdirSync(dir), []);
    } finally {
      isolate.dispose();
    }
  } finally {
    process.env.ISLET_BOOTSTRAP_SNAPSHOT = 'on';
  }
});

after(() => {
  if (wanted === undefined) delete process.env.ISLET_BOOTSTRAP_SNAPSHOT;
  else process.env.ISLET_BOOTSTRAP_SNAPSHOT = wanted;
});
