// FsDeploymentStore: what serving processes and the admin API rely on.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { FsDeploymentStore } from '../../server/store/fs';
import type { DeploymentManifest, StoreChange } from '../../server/store/types';

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-store-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

const hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

function deployment(tenant: string, id: string, source: string): { manifest: DeploymentManifest; files: Map<string, Buffer> } {
  const code = Buffer.from(source);
  const map = Buffer.from('{"version":3,"sources":[],"mappings":""}');
  return {
    manifest: {
      id,
      tenant,
      hash: hex(code),
      createdAt: new Date().toISOString(),
      format: 'modules',
      entry: 'index.js',
      modules: [{ path: 'index.js', size: code.length, sha256: hex(code), sourceMap: 'index.js.map' }],
      routes: [],
      warnings: [],
      size: code.length,
    },
    files: new Map([
      ['index.js', code],
      ['index.js.map', map],
    ]),
  };
}

describe('FsDeploymentStore', () => {
  test('stores tenants, deployments, env, tokens and code caches, and keeps them across a restart', async () => {
    const dir = tempDir();
    const store = new FsDeploymentStore(dir);
    await store.putTenant({ name: 'shop', createdAt: '2026-01-01T00:00:00.000Z', active: null, limits: { cpuMs: 20 } });
    const d = deployment('shop', 'd1', 'export default { fetch() { return new Response("1") } }');
    await store.putDeployment(d.manifest, d.files);
    await store.activate('shop', 'd1');
    await store.putEnv('shop', { vars: { A: '1' }, secrets: { KEY: 's3cret' } });
    await store.putToken({ id: 't1', tenant: 'shop', hash: hex('tok'), createdAt: new Date().toISOString() });
    await store.writeCodeCache('shop', 'd1', 'index.js', '11.3.244.8-node.19', Buffer.from([1, 2, 3]));
    await store.close();

    const again = new FsDeploymentStore(dir);
    assert.deepEqual(await again.getTenant('shop'), {
      name: 'shop',
      createdAt: '2026-01-01T00:00:00.000Z',
      active: 'd1',
      limits: { cpuMs: 20 },
    });
    assert.deepEqual(await again.getDeployment('shop', 'd1'), d.manifest);
    assert.equal((await again.readFile('shop', 'd1', 'index.js')).toString(), 'export default { fetch() { return new Response("1") } }');
    assert.equal((await again.readFile('shop', 'd1', 'index.js.map')).toString(), d.files.get('index.js.map')!.toString());
    assert.deepEqual(await again.getEnv('shop'), { vars: { A: '1' }, secrets: { KEY: 's3cret' } });
    assert.equal((await again.findTokenByHash(hex('tok')))?.tenant, 'shop');
    assert.deepEqual(await again.readCodeCache('shop', 'd1', 'index.js', '11.3.244.8-node.19'), Buffer.from([1, 2, 3]));
    assert.equal(await again.readCodeCache('shop', 'd1', 'index.js', 'other-v8'), null);
    await again.close();
  });

  test('refuses to delete the active deployment, deletes inactive ones, and rolls back by pointer', async () => {
    const store = new FsDeploymentStore(tempDir());
    await store.putTenant({ name: 'a', createdAt: new Date().toISOString(), active: null });
    for (const id of ['v1', 'v2']) {
      const d = deployment('a', id, `export default { fetch() { return new Response("${id}") } }`);
      await store.putDeployment(d.manifest, d.files);
    }
    await store.activate('a', 'v2');
    await assert.rejects(store.deleteDeployment('a', 'v2'), { code: 'ISLET_STORE_ACTIVE_DEPLOYMENT' });
    await store.activate('a', 'v1');
    assert.equal((await store.getTenant('a'))?.active, 'v1');
    await store.deleteDeployment('a', 'v2');
    assert.deepEqual((await store.listDeployments('a')).map((m) => m.id), ['v1']);
    await assert.rejects(store.activate('a', 'v2'), { code: 'ISLET_STORE_NOT_FOUND' });
    await store.close();
  });

  test('refuses names that would leave the data folder and manifests that do not match their files', async () => {
    const store = new FsDeploymentStore(tempDir());
    await assert.rejects(store.putTenant({ name: '../etc', createdAt: '', active: null }), { code: 'ISLET_STORE_INVALID_NAME' });
    await assert.rejects(store.getDeployment('ok', '../../x'), { code: 'ISLET_STORE_INVALID_NAME' });
    await store.putTenant({ name: 'ok', createdAt: new Date().toISOString(), active: null });
    const d = deployment('ok', 'd1', 'x');
    d.files.set('index.js', Buffer.from('tampered'));
    await assert.rejects(store.putDeployment(d.manifest, d.files), { code: 'ISLET_STORE_CORRUPT' });
    const e = deployment('ok', 'd2', 'x');
    e.files.set('../escape.js', Buffer.from('x'));
    await assert.rejects(store.putDeployment(e.manifest, e.files), { code: 'ISLET_STORE_INVALID_NAME' });
    await store.close();
  });

  test('deleting a deployment frees its own files and never one another deployment still uses', async () => {
    const dir = tempDir();
    const store = new FsDeploymentStore(dir);
    await store.putTenant({ name: 'gc', createdAt: new Date().toISOString(), active: null });
    // both deployments carry the same source map file: stored once, shared
    const a = deployment('gc', 'a', 'export default { fetch() { return new Response("a") } }');
    const b = deployment('gc', 'b', 'export default { fetch() { return new Response("b") } }');
    await store.putDeployment(a.manifest, a.files);
    await store.putDeployment(b.manifest, b.files);
    await store.activate('gc', 'b');
    const blob = (data: Buffer) => path.join(dir, 'blobs', hex(data).slice(0, 2), hex(data));
    // age every blob past the grace period that protects uploads in flight
    const old = new Date(Date.now() - 60 * 60 * 1000);
    for (const prefix of fs.readdirSync(path.join(dir, 'blobs'))) {
      for (const name of fs.readdirSync(path.join(dir, 'blobs', prefix))) fs.utimesSync(path.join(dir, 'blobs', prefix, name), old, old);
    }
    await store.deleteDeployment('gc', 'a');
    assert.equal(fs.existsSync(blob(a.files.get('index.js')!)), false, "a's own module is gone");
    assert.equal(fs.existsSync(blob(a.files.get('index.js.map')!)), true, 'the shared map stays');
    assert.deepEqual(await store.readFile('gc', 'b', 'index.js.map'), b.files.get('index.js.map'));
    assert.deepEqual(await store.readFile('gc', 'b', 'index.js'), b.files.get('index.js'));
    await store.close();
  });

  test('deleting a tenant removes its deployments, env and tokens', async () => {
    const store = new FsDeploymentStore(tempDir());
    await store.putTenant({ name: 'gone', createdAt: new Date().toISOString(), active: null });
    const d = deployment('gone', 'd1', 'y');
    await store.putDeployment(d.manifest, d.files);
    await store.putToken({ id: 'tk', tenant: 'gone', hash: hex('x'), createdAt: new Date().toISOString() });
    await store.deleteTenant('gone');
    assert.equal(await store.getTenant('gone'), null);
    assert.deepEqual(await store.listDeployments('gone'), []);
    assert.deepEqual(await store.listTokens('gone'), []);
    assert.deepEqual(await store.listTenants(), []);
    await store.close();
  });

  test('watch() reports an activation made by another process', async () => {
    const dir = tempDir();
    const store = new FsDeploymentStore(dir);
    await store.putTenant({ name: 'w', createdAt: new Date().toISOString(), active: null });
    const d = deployment('w', 'd1', 'z');
    await store.putDeployment(d.manifest, d.files);
    const seen: StoreChange[] = [];
    let resolve!: () => void;
    const activated = new Promise<void>((r) => (resolve = r));
    const stop = store.watch((change) => {
      seen.push(change);
      if (change.kind === 'activation') resolve();
    });
    const storeModule = path.resolve(__dirname, '../../server/store/fs.js');
    const child = spawn(process.execPath, [
      '-e',
      `new (require(${JSON.stringify(storeModule)}).FsDeploymentStore)(${JSON.stringify(dir)}).activate('w', 'd1').catch((e) => { console.error(e); process.exit(1); })`,
    ]);
    const code = await new Promise((r) => child.on('exit', r));
    assert.equal(code, 0);
    // the poller's timer does not hold the process open; this guard does, and fails a lost change
    let guard!: NodeJS.Timeout;
    const timeout = new Promise((_, reject) => (guard = setTimeout(() => reject(new Error('activation never reported')), 10_000)));
    await Promise.race([activated, timeout]);
    clearTimeout(guard);
    assert.deepEqual(seen.filter((c) => c.kind === 'activation'), [{ tenant: 'w', kind: 'activation' }]);
    // env changes and removals are reported too, each with its kind
    const next = (kind: StoreChange['kind']) =>
      new Promise<StoreChange>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no '${kind}' change reported`)), 10_000);
        const off = store.watch((change) => {
          if (change.kind !== kind) return;
          clearTimeout(timer);
          off();
          resolve(change);
        });
      });
    const envChange = next('env');
    await store.putEnv('w', { vars: { A: '1' }, secrets: {} });
    assert.deepEqual(await envChange, { tenant: 'w', kind: 'env' });
    const removal = next('tenant');
    await store.deleteTenant('w');
    assert.deepEqual(await removal, { tenant: 'w', kind: 'tenant' });
    stop();
    await store.close();
  });
});
