// `islet store migrate --from file:///… --to postgres://…` with 50 tenants: everything arrives
// (tenants, limits, deployments and their files, env and secrets, tokens, active pointers and
// their routes), a second run changes nothing, and a run killed half-way is finished by the next.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { FsDeploymentStore } from '../../server/store/fs';
import { openStore } from '../../server/store/open';
import { generateSecretKey } from '../../server/store/postgres/secrets';
import type { DeploymentStore } from '../../server/store/types';
import { PostgresCluster, needsPostgres } from '../support/postgres';
import { deployment, hex } from './store-contract';

const key = generateSecretKey('mig');
const tenants = 50;
const islet = path.resolve(__dirname, '../../../bin/islet.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** runs `islet store migrate …`; `killAfter` kills it -9 once stderr contains that text */
function migrate(args: string[], env: Record<string, string>, killAfter?: string): Promise<Run> {
  const child = spawn(process.execPath, ['--no-node-snapshot', islet, 'store', 'migrate', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
    if (killAfter && stderr.includes(killAfter)) child.kill('SIGKILL');
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

async function fill(store: FsDeploymentStore): Promise<void> {
  for (let i = 0; i < tenants; i++) {
    const name = `t${String(i).padStart(2, '0')}`;
    await store.putTenant({
      name,
      createdAt: `2026-01-01T00:00:${String(i).padStart(2, '0')}.000Z`,
      active: null,
      ...(i % 5 === 0 ? { limits: { cpuMs: 10 + i } } : {}),
    });
    for (const v of ['v1', 'v2']) {
      // every tenant shares a library file (deduplicated) and has its own entry module
      const d = deployment(
        name,
        v,
        `export default { fetch() { return new Response("${name} ${v}") } }`,
        i % 3 === 0 ? [`${name}.example.com/*`] : [],
      );
      d.files.set('lib/shared.js', Buffer.from('export const shared = 42;\n'));
      d.manifest.modules.push({ path: 'lib/shared.js', size: 26, sha256: hex('export const shared = 42;\n') });
      await store.putDeployment(d.manifest, d.files);
    }
    await store.activate(name, i % 2 ? 'v1' : 'v2');
    await store.putEnv(name, { vars: { INDEX: String(i) }, secrets: { SECRET: `s-${i}` } });
    if (i % 4 === 0)
      await store.putToken({
        id: `tok_${name}`,
        tenant: name,
        hash: hex(`token ${name}`),
        createdAt: '2026-02-02T00:00:00.000Z',
        description: `ci for ${name}`,
      });
  }
}

/** the whole content of a store, as comparable data */
async function snapshot(store: DeploymentStore): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const tenant of await store.listTenants()) {
    const deployments: Record<string, unknown> = {};
    for (const manifest of await store.listDeployments(tenant.name)) {
      const files: Record<string, string> = {};
      for (const p of Object.keys(await store.deploymentFiles(tenant.name, manifest.id)))
        files[p] = hex(await store.readFile(tenant.name, manifest.id, p));
      deployments[manifest.id] = { manifest, files };
    }
    out[tenant.name] = {
      tenant,
      deployments,
      env: await store.getEnv(tenant.name),
      tokens: await store.listTokens(tenant.name),
    };
  }
  return out;
}

describe('islet store migrate --from file:// --to postgres://', needsPostgres(), () => {
  let pg: PostgresCluster;
  let dir: string;
  let source: FsDeploymentStore;
  /** what every copy must hold */
  let expected: unknown;
  before(async () => {
    pg = await PostgresCluster.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-migrate-'));
    source = new FsDeploymentStore(path.join(dir, 'data'));
    const started = Date.now();
    await fill(source);
    expected = await snapshot(source);
    console.log(`# ${tenants} tenants written to the directory store in ${Date.now() - started} ms`);
  });
  after(async () => {
    await source?.close();
    await pg?.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const env = () => ({ ISLET_SECRET_KEY: key, ISLET_DATA_DIR: path.join(dir, 'node') });
  const from = () => pathToFileURL(path.join(dir, 'data')).href;

  // One database for the first two tests, in order: a copy killed half-way and finished by a
  // second run, then a third run that finds everything in place.
  let url: string;

  test(`copies ${tenants} tenants whole: a run killed -9 half-way is finished by the next, and verified`, async () => {
    url = await pg.createDatabase();
    const killed = await migrate(['--from', from(), '--to', url], env(), '20/50 tenants');
    assert.equal(killed.code, null, 'killed');
    const target = await openStore(url, { dataDir: path.join(dir, 'check'), secretKey: key });
    const copiedBefore = (await target.listTenants()).length;
    assert.ok(
      copiedBefore >= 20 && copiedBefore < tenants,
      `the kill landed half-way (${copiedBefore} tenants copied)`,
    );

    const resumed = await migrate(['--from', from(), '--to', url], env());
    assert.equal(resumed.code, 0, resumed.stderr);
    const report = JSON.parse(resumed.stdout.slice(resumed.stdout.indexOf('{')));
    assert.ok(report.tenants.present >= 20, 'what the first run copied is found, not copied again');
    for (const [what, total] of [
      ['tenants', tenants],
      ['deployments', tenants * 2],
      ['activations', tenants],
    ] as const) {
      assert.equal(report[what].copied + report[what].present, total, `${what}: every one accounted for`);
    }
    assert.equal(report.verifiedFiles, tenants * 2 * 3, 'every file read back and its hash checked');
    assert.deepEqual(report.problems, []);
    assert.ok(!resumed.stdout.includes('password'), 'no credentials printed');
    assert.deepEqual(await snapshot(target), expected);
    // the shared library is one blob, not a hundred
    const blobs = await pg.sql<{ n: string }>('SELECT count(*) AS n FROM islet.blobs', new URL(url).pathname.slice(1));
    assert.equal(Number(blobs[0]!.n), tenants * 2 + 2, 'one blob per entry module, one shared library, one shared map');
    // routes were claimed by the activations: another tenant cannot take one
    const thief = deployment('t00', 'thief', 'x', ['t03.example.com/*']);
    await target.putDeployment(thief.manifest, thief.files);
    await assert.rejects(target.activate('t00', 'thief'), { code: 'ISLET_STORE_ROUTE_TAKEN' });
    await target.close();
  });

  test('a run over a complete copy copies nothing', async () => {
    const again = await migrate(['--from', from(), '--to', url], env());
    assert.equal(again.code, 0, again.stderr);
    const report = JSON.parse(again.stdout.slice(again.stdout.indexOf('{')));
    for (const what of ['tenants', 'env', 'tokens', 'activations'] as const) {
      assert.deepEqual(report[what].copied, 0, `${what}: nothing copied again`);
    }
    // the thief deployment made on the target stays; the source's are all present
    assert.deepEqual(report.deployments, { copied: 0, present: tenants * 2 });
    assert.deepEqual(report.problems, []);
  });

  test('bad arguments say what is wrong', async () => {
    const missingTo = await migrate(['--from', from()], env());
    assert.notEqual(missingTo.code, 0);
    assert.match(missingTo.stderr, /--from needs --to/);
    const badUrl = await migrate(['--from', from(), '--to', 'mysql://x'], env());
    assert.notEqual(badUrl.code, 0);
    assert.match(badUrl.stderr, /neither file:\/\/\/<folder> nor postgres:\/\//);
  });
});
