// Operator-side publishing (`npm start` publishes functions/ through deployDirectory) and the
// operator token's first-start generation.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { loadOperatorToken } from '../../server/admin/auth';
import { applyFolderBindings, deployDirectory } from '../../server/deploy/directory';
import { FsDeploymentStore } from '../../server/store/fs';
import { fixtures, repoRoot, runGraph } from './deploy-fixtures';

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-deploy-dir-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function readAll(store: FsDeploymentStore, tenant: string, id: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const p of Object.keys(await store.deploymentFiles(tenant, id)))
    files.set(p, await store.readFile(tenant, id, p));
  return files;
}

test('deployDirectory publishes a folder once and again only when it changed', async () => {
  const store = new FsDeploymentStore(tempDir());
  const folder = path.join(tempDir(), 'fn');
  fs.cpSync(path.join(fixtures, 'importmap'), folder, { recursive: true });
  const first = await deployDirectory(store, 'dir', folder);
  assert.equal(first.stored, true);
  assert.equal((await store.getTenant('dir'))?.active, first.manifest.id);
  const same = await deployDirectory(store, 'dir', folder);
  assert.deepEqual(same, { manifest: first.manifest, stored: false });
  fs.writeFileSync(path.join(folder, 'vendor', 'version.js'), 'export const version = "2.0.0";');
  const changed = await deployDirectory(store, 'dir', folder);
  assert.equal(changed.stored, true);
  assert.notEqual(changed.manifest.hash, first.manifest.hash);
  assert.equal((await store.getTenant('dir'))?.active, changed.manifest.id);
  assert.deepEqual(
    runGraph(changed.manifest, await readAll(store, 'dir', changed.manifest.id), 'http://dir.localhost/'),
    { status: 200, body: '[2.0.0]' },
  );
  await store.close();
});

test("bare imports of an operator's folder come from the nearest node_modules above it (functions/api uses hono)", async () => {
  const store = new FsDeploymentStore(tempDir());
  const { manifest, stored } = await deployDirectory(store, 'api', path.join(repoRoot, 'functions', 'api'));
  assert.equal(stored, true);
  assert.ok(manifest.importMap?.hono?.startsWith('node_modules/hono/'), JSON.stringify(manifest.importMap));
  const result = runGraph(manifest, await readAll(store, 'api', manifest.id), 'http://api.localhost/notes');
  assert.equal(result.status, 200, result.error ?? '');
  assert.deepEqual(JSON.parse(result.body!), { notes: [] });
  await store.close();
});

test("a folder's bindings.json is its tenant's configuration; a bad one names the file and the key", async () => {
  const store = new FsDeploymentStore(tempDir());
  const folder = path.join(tempDir(), 'fn');
  fs.cpSync(path.join(fixtures, 'importmap'), folder, { recursive: true });
  await deployDirectory(store, 'callee', folder);
  assert.equal(await applyFolderBindings(store, 'callee', folder), false, 'no file, nothing changed');
  fs.writeFileSync(path.join(folder, 'bindings.json'), '{ "callers": ["proxy"] }');
  assert.equal(await applyFolderBindings(store, 'callee', folder), true);
  assert.deepEqual((await store.getTenant('callee'))?.bindings, { callers: ['proxy'] });
  assert.equal(await applyFolderBindings(store, 'callee', folder), false, 'the same file again changes nothing');
  fs.writeFileSync(path.join(folder, 'bindings.json'), '{ "callers": ["Not A Tenant"], "frobnicate": 1 }');
  await assert.rejects(applyFolderBindings(store, 'callee', folder), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'ISLET_DEPLOY_BAD_CONFIG');
    assert.match(e.message, /bindings\.json: unknown key 'frobnicate'/);
    return true;
  });
  fs.writeFileSync(path.join(folder, 'bindings.json'), '{ "callers": [5] }');
  await assert.rejects(applyFolderBindings(store, 'callee', folder), /bindings\.json: callers\[0\]/);
  fs.writeFileSync(path.join(folder, 'bindings.json'), '{ "callers": ');
  await assert.rejects(applyFolderBindings(store, 'callee', folder), /bindings\.json: not JSON/);
  assert.deepEqual((await store.getTenant('callee'))?.bindings, { callers: ['proxy'] }, 'a bad file changes nothing');
});

test('the operator token is generated once into the data folder with mode 0600, unless configured', () => {
  const dataDir = path.join(tempDir(), 'data');
  const made = loadOperatorToken(dataDir);
  assert.equal(made.created, true);
  assert.equal(made.file, path.join(dataDir, 'admin-token'));
  assert.equal(fs.statSync(made.file!).mode & 0o777, 0o600);
  assert.match(made.token, /^islet_[A-Za-z0-9_-]{43}$/);
  const again = loadOperatorToken(dataDir);
  assert.deepEqual(again, { token: made.token, file: made.file, created: false });
  assert.deepEqual(loadOperatorToken(dataDir, 'from-env'), { token: 'from-env', file: null, created: false });
});
