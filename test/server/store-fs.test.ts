// The directory store: the contract suite, plus what only a folder shared by several processes
// of one machine has to get right: its write lock and change log under concurrent writer
// processes, a writer killed while holding the lock, and blob garbage collection on disk.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { FsDeploymentStore } from '../../server/store/fs';
import type { DeploymentStore, LoggedChange } from '../../server/store/types';
import { deployment, hex, storeContract, tenantWith } from './store-contract';

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-store-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

storeContract('fs', async () => {
  const dir = tempDir();
  const opened: DeploymentStore[] = [];
  const store = new FsDeploymentStore(dir);
  opened.push(store);
  return {
    store,
    another: async () => {
      const other = new FsDeploymentStore(dir);
      opened.push(other);
      return other;
    },
    close: async () => {
      await Promise.all(opened.map((s) => s.close()));
    },
  };
});

const storeModule = path.resolve(__dirname, '../../server/store/fs.js');
const lockModule = path.resolve(__dirname, '../../server/store/fs-lock.js');

/** runs a script in a child process; resolves with its exit code and output */
function child(script: string): { exited: Promise<{ code: number | null; out: string }>; pid: number; kill(): void } {
  const proc = spawn(process.execPath, ['-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  let out = '';
  proc.stdout.on('data', (chunk) => (out += chunk));
  proc.stderr.on('data', (chunk) => (out += chunk));
  return {
    exited: new Promise((resolve) => proc.once('exit', (code) => resolve({ code, out }))),
    pid: proc.pid!,
    kill: () => proc.kill('SIGKILL'),
  };
}

describe('FsDeploymentStore across processes', () => {
  test('four writer processes at once: revisions 1..N with no gap, a feed sees them all in order', async () => {
    const dir = tempDir();
    const store = new FsDeploymentStore(dir);
    await store.putTenant({ name: 'busy', createdAt: new Date().toISOString(), active: null });
    const feed = store.openFeed({ from: 0, pollMs: 500 });
    const seen: LoggedChange[] = [];
    feed.onChange((c) => void seen.push(c));
    await feed.start();
    const perWriter = 40;
    const writers = Array.from({ length: 4 }, (_, w) =>
      child(`
        const store = new (require(${JSON.stringify(storeModule)}).FsDeploymentStore)(${JSON.stringify(dir)});
        (async () => {
          const revisions = [];
          for (let i = 0; i < ${perWriter}; i++) {
            revisions.push(await store.putEnv('busy', { vars: { W: '${w}', I: String(i) }, secrets: {} }));
          }
          console.log(JSON.stringify(revisions));
        })().catch((e) => { console.error(e); process.exit(1); });`),
    );
    const results = await Promise.all(writers.map((w) => w.exited));
    const revisions: number[] = [];
    for (const { code, out } of results) {
      assert.equal(code, 0, out);
      revisions.push(...(JSON.parse(out) as number[]));
    }
    const total = 4 * perWriter + 1;
    assert.deepEqual(
      [...revisions].sort((a, b) => a - b),
      Array.from({ length: 4 * perWriter }, (_, i) => i + 2),
      'revisions 2..N, each once',
    );
    assert.equal(await store.currentRevision(), total);
    assert.ok(await feed.waitFor(total, 10_000), 'the feed caught up');
    assert.deepEqual(
      seen.map((c) => c.revision),
      Array.from({ length: total }, (_, i) => i + 1),
    );
    // the env the last write left is whole
    assert.equal(Object.keys((await store.getEnv('busy')).vars).length, 2);
    await feed.close();
    await store.close();
  });

  test('a writer killed -9 holding the lock: the next takes over at once, its change is logged', async () => {
    const dir = tempDir();
    const store = new FsDeploymentStore(dir, { lockWaitMs: 20_000 });
    await store.putTenant({ name: 'dead', createdAt: new Date().toISOString(), active: null });
    const holder = child(`
      const { StoreLock } = require(${JSON.stringify(lockModule)});
      const lock = new StoreLock(${JSON.stringify(path.join(dir, 'locks'))}, async () => {});
      lock.run({ tenant: 'dead', kind: 'activation' }, () => new Promise(() => {}));`);
    const started = Date.now();
    while (!fs.existsSync(path.join(dir, 'locks', 'store.lock'))) {
      assert.ok(Date.now() - started < 10_000, 'the child took the lock');
      await new Promise((r) => setTimeout(r, 10));
    }
    holder.kill();
    await holder.exited;
    const before = Date.now();
    const revision = await store.putEnv('dead', { vars: { A: '1' }, secrets: {} });
    assert.ok(Date.now() - before < 5000, 'the dead holder was not waited for');
    const changes = await store.changesSince(1);
    assert.deepEqual(
      changes.map(({ tenant, kind }) => ({ tenant, kind })),
      [
        { tenant: 'dead', kind: 'activation' },
        { tenant: 'dead', kind: 'env' },
      ],
      "the dead holder's intent, then the new write",
    );
    assert.equal(revision, 3);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'locks')), [], 'no lock or claim file left');
    await store.close();
  });

  test("a feed alone (no later write) recovers a dead holder's lock and delivers its change", async () => {
    const dir = tempDir();
    const store = new FsDeploymentStore(dir);
    await store.putTenant({ name: 'quiet', createdAt: new Date().toISOString(), active: null });
    const feed = store.openFeed({ pollMs: 300 });
    const seen: LoggedChange[] = [];
    feed.onChange((c) => void seen.push(c));
    await feed.start();
    const holder = child(`
      const { StoreLock } = require(${JSON.stringify(lockModule)});
      const lock = new StoreLock(${JSON.stringify(path.join(dir, 'locks'))}, async () => {});
      lock.run({ tenant: 'quiet', kind: 'env' }, () => new Promise(() => {}));`);
    while (!fs.existsSync(path.join(dir, 'locks', 'store.lock'))) await new Promise((r) => setTimeout(r, 10));
    holder.kill();
    await holder.exited;
    assert.ok(await feed.waitFor(2, 15_000), 'the change of the dead writer arrived');
    assert.deepEqual(
      seen.map(({ tenant, kind }) => ({ tenant, kind })),
      [{ tenant: 'quiet', kind: 'env' }],
    );
    await feed.close();
    await store.close();
  });

  test('watch() reports an activation made by another process', async () => {
    const dir = tempDir();
    const store = new FsDeploymentStore(dir);
    await tenantWith(store, 'w', 'd1');
    let resolve!: () => void;
    const activated = new Promise<void>((r) => (resolve = r));
    const stop = store.watch((change) => change.kind === 'activation' && resolve());
    const writer = child(
      `const store = new (require(${JSON.stringify(storeModule)}).FsDeploymentStore)(${JSON.stringify(dir)});
      store.activate('w', 'd1').catch((e) => { console.error(e); process.exit(1); })`,
    );
    const { code, out } = await writer.exited;
    assert.equal(code, 0, out);
    let guard!: NodeJS.Timeout;
    await Promise.race([
      activated,
      new Promise((_, reject) => (guard = setTimeout(() => reject(new Error('activation never reported')), 10_000))),
    ]);
    clearTimeout(guard);
    stop();
    await store.close();
  });

  test('deleting a deployment removes its own blobs from disk, never one another deployment uses', async () => {
    const dir = tempDir();
    const store = new FsDeploymentStore(dir);
    await store.putTenant({ name: 'gc', createdAt: new Date().toISOString(), active: null });
    const a = deployment('gc', 'a', 'export default { fetch() { return new Response("a") } }');
    const b = deployment('gc', 'b', 'export default { fetch() { return new Response("b") } }');
    await store.putDeployment(a.manifest, a.files);
    await store.putDeployment(b.manifest, b.files);
    await store.activate('gc', 'b');
    const blob = (data: Buffer) => path.join(dir, 'blobs', hex(data).slice(0, 2), hex(data));
    // age every blob past the grace period that protects uploads in flight
    const old = new Date(Date.now() - 60 * 60 * 1000);
    for (const prefix of fs.readdirSync(path.join(dir, 'blobs'))) {
      for (const name of fs.readdirSync(path.join(dir, 'blobs', prefix)))
        fs.utimesSync(path.join(dir, 'blobs', prefix, name), old, old);
    }
    await store.deleteDeployment('gc', 'a');
    assert.equal(fs.existsSync(blob(a.files.get('index.js')!)), false, "a's own module is gone");
    assert.equal(fs.existsSync(blob(a.files.get('index.js.map')!)), true, 'the shared map stays');
    await store.close();
  });
});
