// The admin API over real HTTP: upload forms, validation answers, auth, versions and rollback,
// env and secrets, tokens, the prepare hook, restart, and the CLI against it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { serve } from '@hono/node-server';
import * as tar from 'tar-stream';
import { createAdminApi, type AdminApiDeps } from '../../server/admin/api';
import { DeployGate } from '../../server/deploy/gate';
import { Logger } from '../../server/observe/server-log';
import { FsDeploymentStore } from '../../server/store/fs';
import { nullObserver, type TenantObserver } from '../../server/tenants/observer';
import { fixtureFiles, fixtures, repoRoot, runGraph, vendorLruCache } from './deploy-fixtures';

const operator = 'operator-secret-token';
const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-deploy-api-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

interface Admin {
  url: string;
  store: FsDeploymentStore;
  logLines: string[];
  deployments: string[];
  close(): Promise<void>;
}

async function startAdmin(dataDir: string, extra: Partial<AdminApiDeps> = {}): Promise<Admin> {
  const store = new FsDeploymentStore(dataDir);
  const logLines: string[] = [];
  const deployments: string[] = [];
  const observer: TenantObserver = {
    ...nullObserver,
    deployment: (tenant, result) => deployments.push(`${tenant}:${result}`),
  };
  const app = createAdminApi({
    store,
    logger: new Logger('debug', (line) => logLines.push(line)),
    observer,
    operatorToken: operator,
    baseDomain: 'fn.test',
    tenantPort: 8080,
    ...extra,
  });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    store,
    logLines,
    deployments,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
    },
  };
}

async function api(
  admin: Admin,
  method: string,
  route: string,
  init: { token?: string | null; body?: string | Buffer | FormData; type?: string } = {},
) {
  const headers: Record<string, string> = {};
  const token = init.token === undefined ? operator : init.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (init.type) headers['content-type'] = init.type;
  const response = await fetch(`${admin.url}${route}`, {
    method,
    headers,
    body: (init.body ?? null) as RequestInit['body'],
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

const hello = 'export default { fetch() { return new Response("hello") } }';

async function tarGz(files: Map<string, Buffer>, prefix = ''): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, data] of files) pack.entry({ name: prefix + name, size: data.length }, data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return zlib.gzipSync(Buffer.concat(chunks));
}

describe('admin API', () => {
  let admin: Admin;
  let dataDir: string;
  before(async () => {
    dataDir = tempDir();
    admin = await startAdmin(dataDir);
  });
  after(async () => admin.close());

  test('GET /healthz needs no token', async () => {
    assert.deepEqual(await api(admin, 'GET', '/healthz', { token: null }), { status: 200, body: { ok: true } });
  });

  test('upload: one JavaScript module', async () => {
    const res = await api(admin, 'POST', '/v1/tenants/js/deployments', { body: hello, type: 'application/javascript' });
    assert.equal(res.status, 201);
    assert.deepEqual(Object.keys(res.body).sort(), ['active', 'hash', 'id', 'url', 'warnings']);
    assert.equal(res.body.url, 'http://js.fn.test:8080/');
    assert.equal(res.body.active, true);
    assert.match(res.body.hash, /^[0-9a-f]{64}$/);
    const tenant = await api(admin, 'GET', '/v1/tenants/js');
    assert.equal(tenant.body.active, res.body.id);
    const manifest = (await api(admin, 'GET', `/v1/tenants/js/deployments/${res.body.id}`)).body;
    const files = new Map([['index.js', await admin.store.readFile('js', res.body.id, 'index.js')]]);
    assert.deepEqual(runGraph(manifest, files, 'http://js.fn.test/'), { status: 200, body: 'hello' });
  });

  test('upload: one TypeScript module', async () => {
    const res = await api(admin, 'POST', '/v1/tenants/ts/deployments', {
      body: 'export default { fetch(req: Request): Response { return new Response(new URL(req.url).pathname as string) } }',
      type: 'application/typescript',
    });
    assert.equal(res.status, 201);
    const manifest = (await api(admin, 'GET', `/v1/tenants/ts/deployments/${res.body.id}`)).body;
    assert.equal(manifest.entry, 'index.js');
    const files = new Map([['index.js', await admin.store.readFile('ts', res.body.id, 'index.js')]]);
    assert.deepEqual(runGraph(manifest, files, 'http://ts.fn.test/some/path'), { status: 200, body: '/some/path' });
  });

  test('upload: multipart, TypeScript over several files with a real npm package, routes and compatibility', async () => {
    const form = new FormData();
    for (const [name, data] of fixtureFiles('multi')) form.append('file', new Blob([new Uint8Array(data)]), name);
    form.append('entry', 'index.ts');
    form.append('routes', 'shop.example.com/api/*');
    form.append('compatibility', '{"date":"2026-01-01"}');
    const res = await api(admin, 'POST', '/v1/tenants/shop/deployments?routes=www.example.com/', { body: form });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const manifest = (await api(admin, 'GET', `/v1/tenants/shop/deployments/${res.body.id}`)).body;
    assert.deepEqual(manifest.routes, ['shop.example.com/api/*', 'www.example.com/']);
    assert.deepEqual(manifest.compatibility, { date: '2026-01-01' });
    const files = new Map<string, Buffer>();
    for (const m of manifest.modules) files.set(m.path, await admin.store.readFile('shop', res.body.id, m.path));
    assert.deepEqual(runGraph(manifest, files, 'http://shop.fn.test/?name=multipart'), {
      status: 200,
      body: 'HELLO MULTIPART',
    });
    const listed = (await api(admin, 'GET', '/v1/tenants')).body.tenants.find(
      (t: { name: string }) => t.name === 'shop',
    );
    assert.deepEqual(listed.routes, ['shop.example.com/api/*', 'www.example.com/']);
  });

  test('upload: tar.gz of a folder, bundled on request', async () => {
    const archive = await tarGz(fixtureFiles('multi'), 'multi/');
    const res = await api(admin, 'POST', '/v1/tenants/tgz/deployments?bundle=true', {
      body: archive,
      type: 'application/gzip',
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const manifest = (await api(admin, 'GET', `/v1/tenants/tgz/deployments/${res.body.id}`)).body;
    assert.deepEqual(
      manifest.modules.map((m: { path: string }) => m.path),
      ['index.js'],
    );
    const files = new Map([['index.js', await admin.store.readFile('tgz', res.body.id, 'index.js')]]);
    assert.deepEqual(runGraph(manifest, files, 'http://tgz.fn.test/?name=tar'), { status: 200, body: 'HELLO TAR' });
  });

  test('validation failures answer 400 with code and message, and store nothing', async () => {
    const before = await admin.store.listDeployments('js');
    const syntax = await api(admin, 'POST', '/v1/tenants/js/deployments', {
      body: 'export default {',
      type: 'application/javascript',
    });
    assert.deepEqual(syntax, {
      status: 400,
      body: { error: { code: 'BUILD_FAILED', message: 'index.js:1:17: Expected identifier but found end of file' } },
    });
    const noHandler = await api(admin, 'POST', '/v1/tenants/js/deployments', {
      body: 'export const x = 1',
      type: 'application/javascript',
    });
    assert.equal(noHandler.status, 400);
    assert.equal(noHandler.body.error.code, 'NO_FETCH_HANDLER');
    const form = new FormData();
    form.append('file', new Blob([hello]), 'index.js');
    form.append('file', new Blob(['x']), '../../outside.js');
    const traversal = await api(admin, 'POST', '/v1/tenants/js/deployments', { body: form });
    assert.deepEqual(traversal, {
      status: 400,
      body: {
        error: {
          code: 'UPLOAD_BAD_PATH',
          message: 'upload: path "../../outside.js" contains \'..\': paths must stay inside the function folder',
        },
      },
    });
    const badRoute = await api(admin, 'POST', '/v1/tenants/js/deployments?routes=nohost', {
      body: hello,
      type: 'application/javascript',
    });
    assert.equal(badRoute.status, 400);
    assert.equal(badRoute.body.error.code, 'BAD_ROUTE');
    const type = await api(admin, 'POST', '/v1/tenants/js/deployments', { body: 'x', type: 'text/html' });
    assert.equal(type.status, 415);
    assert.equal(type.body.error.code, 'UNSUPPORTED_MEDIA_TYPE');
    assert.deepEqual(await admin.store.listDeployments('js'), before);
    assert.ok(admin.deployments.includes('js:failure'));
  });

  test("auth: missing token, wrong token, another tenant's token, revoked token", async () => {
    assert.deepEqual(await api(admin, 'GET', '/v1/tenants', { token: null }), {
      status: 401,
      body: { error: { code: 'UNAUTHORIZED', message: "missing 'Authorization: Bearer <token>' header" } },
    });
    assert.deepEqual(await api(admin, 'GET', '/v1/tenants', { token: 'guess' }), {
      status: 401,
      body: { error: { code: 'UNAUTHORIZED', message: 'the bearer token is not valid' } },
    });
    const created = await api(admin, 'POST', '/v1/tenants/js/tokens', {
      body: '{"description":"ci"}',
      type: 'application/json',
    });
    assert.equal(created.status, 201);
    const token = created.body.token as string;
    // the tenant's own deployments: yes; another tenant's: no
    assert.equal((await api(admin, 'GET', '/v1/tenants/js/deployments', { token })).status, 200);
    assert.equal(
      (await api(admin, 'POST', '/v1/tenants/js/deployments', { token, body: hello, type: 'application/javascript' }))
        .status,
      201,
    );
    assert.deepEqual(await api(admin, 'GET', '/v1/tenants/shop/deployments', { token }), {
      status: 403,
      body: {
        error: { code: 'FORBIDDEN', message: "this token belongs to tenant 'js' and cannot act on tenant 'shop'" },
      },
    });
    assert.equal(
      (await api(admin, 'POST', '/v1/tenants/shop/deployments', { token, body: hello, type: 'application/javascript' }))
        .status,
      403,
    );
    // operator-only routes
    assert.equal((await api(admin, 'POST', '/v1/tenants/js/tokens', { token })).status, 403);
    assert.equal((await api(admin, 'DELETE', '/v1/tenants/js', { token })).status, 403);
    assert.deepEqual(
      (await api(admin, 'GET', '/v1/tenants', { token })).body.tenants.map((t: { name: string }) => t.name),
      ['js'],
    );
    // stored hashed, listed without the hash, revocable
    const listed = await api(admin, 'GET', '/v1/tenants/js/tokens');
    assert.deepEqual(
      listed.body.tokens.map((t: object) => Object.keys(t).sort()),
      [['createdAt', 'description', 'id', 'tenant']],
    );
    assert.ok(!fs.readFileSync(path.join(dataDir, 'tokens', `${created.body.id}.json`), 'utf8').includes(token));
    assert.equal((await api(admin, 'DELETE', `/v1/tenants/js/tokens/${created.body.id}`)).status, 200);
    assert.equal((await api(admin, 'GET', '/v1/tenants/js/deployments', { token })).status, 401);
  });

  test('versions: list newest first, activate=false, rollback, delete refused for the active one', async () => {
    const v1 = (
      await api(admin, 'POST', '/v1/tenants/ver/deployments', {
        body: hello.replace('hello', 'v1'),
        type: 'application/javascript',
      })
    ).body;
    const v2 = (
      await api(admin, 'POST', '/v1/tenants/ver/deployments', {
        body: hello.replace('hello', 'v2'),
        type: 'application/javascript',
      })
    ).body;
    const v3 = (
      await api(admin, 'POST', '/v1/tenants/ver/deployments?activate=false', {
        body: hello.replace('hello', 'v3'),
        type: 'application/javascript',
      })
    ).body;
    assert.equal(v3.active, false);
    let list = (await api(admin, 'GET', '/v1/tenants/ver/deployments')).body;
    assert.equal(list.active, v2.id);
    assert.deepEqual(
      list.deployments.map((d: { id: string }) => d.id),
      [v3.id, v2.id, v1.id],
    );
    const rollback = await api(admin, 'POST', `/v1/tenants/ver/deployments/${v1.id}/activate`);
    assert.deepEqual(rollback, {
      status: 200,
      body: { id: v1.id, active: true, previous: v2.id, url: 'http://ver.fn.test:8080/' },
    });
    assert.equal((await admin.store.getTenant('ver'))?.active, v1.id);
    assert.deepEqual(await api(admin, 'DELETE', `/v1/tenants/ver/deployments/${v1.id}`), {
      status: 409,
      body: {
        error: {
          code: 'ACTIVE_DEPLOYMENT',
          message: `deployment '${v1.id}' is active for tenant 'ver': activate another one first`,
        },
      },
    });
    assert.equal((await api(admin, 'DELETE', `/v1/tenants/ver/deployments/${v2.id}`)).status, 200);
    list = (await api(admin, 'GET', '/v1/tenants/ver/deployments')).body;
    assert.deepEqual(
      list.deployments.map((d: { id: string }) => d.id),
      [v3.id, v1.id],
    );
    assert.equal((await api(admin, 'POST', `/v1/tenants/ver/deployments/${v2.id}/activate`)).status, 404);
  });

  test('a custom route another tenant serves cannot be taken, by upload or by rollback', async () => {
    const first = await api(admin, 'POST', '/v1/tenants/owner/deployments?routes=pay.example.com/*', {
      body: hello,
      type: 'application/javascript',
    });
    assert.equal(first.status, 201);
    const taken = await api(admin, 'POST', '/v1/tenants/thief/deployments?routes=PAY.example.com/*', {
      body: hello,
      type: 'application/javascript',
    });
    assert.deepEqual(taken, {
      status: 409,
      body: {
        error: { code: 'ROUTE_TAKEN', message: "route 'PAY.example.com/*' is already served by tenant 'owner'" },
      },
    });
    // stored without activating, it cannot be activated while the owner serves the route
    const parked = await api(admin, 'POST', '/v1/tenants/thief/deployments?routes=pay.example.com/*&activate=false', {
      body: hello,
      type: 'application/javascript',
    });
    assert.equal(parked.status, 201);
    assert.equal((await api(admin, 'POST', `/v1/tenants/thief/deployments/${parked.body.id}/activate`)).status, 409);
    // the owner redeploying with its own route is fine
    assert.equal(
      (
        await api(admin, 'POST', '/v1/tenants/owner/deployments?routes=pay.example.com/*', {
          body: hello,
          type: 'application/javascript',
        })
      ).status,
      201,
    );
  });

  test('env: vars returned, secrets only by name and never logged; null deletes', async () => {
    const secret = 'sk_live_do_not_leak_42';
    const put = await api(admin, 'PUT', '/v1/tenants/js/env', {
      body: JSON.stringify({ vars: { MODE: 'prod' }, secrets: { API_KEY: secret } }),
      type: 'application/json',
    });
    assert.deepEqual(put, { status: 200, body: { vars: { MODE: 'prod' }, secrets: ['API_KEY'] } });
    await api(admin, 'PUT', '/v1/tenants/js/env', {
      body: JSON.stringify({ secrets: { OTHER: 'x' } }),
      type: 'application/json',
    });
    assert.deepEqual((await api(admin, 'GET', '/v1/tenants/js/env')).body, {
      vars: { MODE: 'prod' },
      secrets: ['API_KEY', 'OTHER'],
    });
    assert.deepEqual((await admin.store.getEnv('js')).secrets, { API_KEY: secret, OTHER: 'x' });
    await api(admin, 'PUT', '/v1/tenants/js/env', {
      body: JSON.stringify({ vars: { MODE: null }, secrets: { OTHER: null } }),
      type: 'application/json',
    });
    assert.deepEqual((await api(admin, 'GET', '/v1/tenants/js/env')).body, { vars: {}, secrets: ['API_KEY'] });
    const bad = await api(admin, 'PUT', '/v1/tenants/js/env', {
      body: JSON.stringify({ vars: { '1BAD': 'x' } }),
      type: 'application/json',
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'BAD_ENV');
    assert.ok(admin.logLines.length > 0);
    assert.ok(
      admin.logLines.every((line) => !line.includes(secret)),
      'no log line carries the secret',
    );
  });

  test('tenants: create, change limits, read, delete', async () => {
    const created = await api(admin, 'PUT', '/v1/tenants/crud', {
      body: JSON.stringify({ limits: { cpuMs: 10 } }),
      type: 'application/json',
    });
    assert.equal(created.status, 201);
    assert.deepEqual(created.body.limits, { cpuMs: 10 });
    assert.equal((await api(admin, 'PUT', '/v1/tenants/crud')).status, 200);
    const patched = await api(admin, 'PATCH', '/v1/tenants/crud', {
      body: JSON.stringify({ limits: { wallMs: 500, cpuMs: null } }),
      type: 'application/json',
    });
    assert.deepEqual(patched.body.limits, { wallMs: 500 });
    assert.equal(
      (await api(admin, 'PATCH', '/v1/tenants/crud', { body: '{"limits":{"cpuMs":-1}}', type: 'application/json' }))
        .status,
      400,
    );
    assert.equal((await api(admin, 'PUT', '/v1/tenants/Bad_Name')).status, 400);
    const limited = await startAdmin(tempDir(), { config: { limits: { cpuMs: 50, wallMs: 1000 } } });
    try {
      assert.deepEqual(
        await api(limited, 'PUT', '/v1/tenants/x', { body: '{"limits":{"cpuMS":5}}', type: 'application/json' }),
        {
          status: 400,
          body: { error: { code: 'BAD_LIMITS', message: "unknown limit 'cpuMS' (known: cpuMs, wallMs)" } },
        },
      );
    } finally {
      await limited.close();
    }
    assert.deepEqual(await api(admin, 'DELETE', '/v1/tenants/crud'), { status: 200, body: { deleted: 'crud' } });
    assert.deepEqual(await api(admin, 'GET', '/v1/tenants/crud'), {
      status: 404,
      body: { error: { code: 'NOT_FOUND', message: "tenant 'crud' does not exist" } },
    });
  });

  test('a restart (new store and API on the same data folder) keeps everything', async () => {
    const before = (await api(admin, 'GET', '/v1/tenants')).body;
    const shopDeployments = (await api(admin, 'GET', '/v1/tenants/shop/deployments')).body;
    const again = await startAdmin(dataDir);
    try {
      assert.deepEqual((await api(again, 'GET', '/v1/tenants')).body, before);
      assert.deepEqual((await api(again, 'GET', '/v1/tenants/shop/deployments')).body, shopDeployments);
      assert.deepEqual((await api(again, 'GET', '/v1/tenants/js/env')).body, { vars: {}, secrets: ['API_KEY'] });
      const manifest = shopDeployments.deployments[0];
      const files = new Map<string, Buffer>();
      for (const m of manifest.modules) files.set(m.path, await again.store.readFile('shop', manifest.id, m.path));
      assert.deepEqual(runGraph(manifest, files, 'http://shop.fn.test/?name=again'), {
        status: 200,
        body: 'HELLO AGAIN',
      });
    } finally {
      await again.close();
    }
  });
});

describe('admin API with a prepare hook', () => {
  test('a rejection from the isolate check is a 400 and stores nothing; code caches are stored', async () => {
    const dataDir = tempDir();
    const admin = await startAdmin(dataDir, {
      prepare: async (manifest, files) => {
        const source = files.get(manifest.entry)!.toString();
        if (source.includes('throw')) {
          throw Object.assign(new Error(`top-level code of ${manifest.entry} threw: Error: nope`), {
            code: 'ISLET_STARTUP_FAILED',
          });
        }
        return new Map([[manifest.entry, Buffer.from(`cache of ${manifest.entry}`)]]);
      },
    });
    try {
      const rejected = await api(admin, 'POST', '/v1/tenants/p/deployments', {
        body: 'throw new Error("nope");\nexport default {}',
        type: 'application/javascript',
      });
      assert.deepEqual(rejected, {
        status: 400,
        body: {
          error: {
            code: 'DEPLOYMENT_REJECTED',
            message:
              'the deployment failed to load (ISLET_STARTUP_FAILED): top-level code of index.js threw: Error: nope',
          },
        },
      });
      assert.deepEqual(await admin.store.listDeployments('p'), []);
      const ok = await api(admin, 'POST', '/v1/tenants/p/deployments', { body: hello, type: 'application/javascript' });
      assert.equal(ok.status, 201);
      const cache = await admin.store.readCodeCache('p', ok.body.id, 'index.js', process.versions.v8);
      assert.equal(cache?.toString(), 'cache of index.js');
      assert.deepEqual(admin.deployments, ['p:failure', 'p:success']);
    } finally {
      await admin.close();
    }
  });

  test('a failure of the hook itself is a 500 without details', async () => {
    const admin = await startAdmin(tempDir(), {
      prepare: async () => {
        throw new Error('Cannot find module /srv/secret/path');
      },
    });
    try {
      const res = await api(admin, 'POST', '/v1/tenants/p/deployments', {
        body: hello,
        type: 'application/javascript',
      });
      assert.deepEqual(res, {
        status: 500,
        body: { error: { code: 'INTERNAL', message: 'internal error; the server log has the details' } },
      });
    } finally {
      await admin.close();
    }
  });
});

describe('islet CLI', () => {
  const exec = promisify(execFile);
  let admin: Admin;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    admin = await startAdmin(tempDir());
    env = { ...process.env, ISLET_ADMIN_URL: admin.url, ISLET_ADMIN_TOKEN: operator, NODE_OPTIONS: '' };
  });
  after(async () => admin.close());
  const islet = (...args: string[]) =>
    exec(process.execPath, [path.join(repoRoot, 'bin', 'islet.js'), ...args], { env });

  test('deploy a folder, a file and a local bundle; list; roll back; list tenants', async () => {
    const folder = path.join(tempDir(), 'multi');
    fs.cpSync(path.join(fixtures, 'multi'), folder, { recursive: true });
    for (const [name, data] of vendorLruCache(new Map())) {
      fs.mkdirSync(path.dirname(path.join(folder, name)), { recursive: true });
      fs.writeFileSync(path.join(folder, name), data);
    }
    const first = await islet('deploy', folder, '--tenant', 'cli', '--routes', 'cli.example.com/*');
    assert.match(first.stdout, /^deployed \S+ to cli in \d+ ms/);
    assert.equal(first.stdout.trim().split('\n').pop(), 'http://cli.fn.test:8080/');
    const second = await islet('deploy', path.join(fixtures, 'script', 'worker.js'), '--tenant', 'cli');
    assert.match(second.stdout, /deployed/);
    const third = await islet('deploy', folder, '--tenant', 'cli', '--bundle', '--no-activate');
    assert.match(third.stdout, /, not active\n/);

    const list = JSON.parse((await islet('deployments', 'cli', '--json')).stdout);
    assert.equal(list.deployments.length, 3);
    const [bundled, script, linked] = list.deployments;
    assert.equal(list.active, script.id);
    assert.equal(script.format, 'script');
    assert.deepEqual(
      bundled.modules.map((m: { path: string }) => m.path),
      ['index.js'],
    );
    // the local bundle's inline source map is carried through: the server's map names the original files
    const map = JSON.parse((await admin.store.readFile('cli', bundled.id, 'index.js.map')).toString());
    assert.ok(map.sources.includes('lib/greet.ts'), map.sources.join(','));
    const text = (await islet('deployments', 'cli')).stdout;
    assert.match(text, new RegExp(`^\\*\\s+${script.id}`, 'm'));

    const rollback = await islet('rollback', 'cli', linked.id);
    assert.equal(rollback.stdout, `cli: ${linked.id} is active again (was ${script.id})\nhttp://cli.fn.test:8080/\n`);
    assert.equal((await admin.store.getTenant('cli'))?.active, linked.id);
    assert.match(
      (await islet('tenants')).stdout,
      /^NAME\s+ACTIVE\s+URL\s+ROUTES\ncli\s+\S+\s+http:\/\/cli\.fn\.test:8080\/\s+cli\.example\.com\/\*\n$/,
    );
  });

  test('errors say what was wrong', async () => {
    await assert.rejects(islet('deploy', path.join(fixtures, 'multi')), (e: { stderr: string }) =>
      /--tenant is required/.test(e.stderr),
    );
    await assert.rejects(islet('rollback', 'cli', 'nope'), (e: { stderr: string }) =>
      e.stderr.includes(
        "POST /v1/tenants/cli/deployments/nope/activate failed with 404: tenant 'cli' has no deployment 'nope' (NOT_FOUND)",
      ),
    );
    await assert.rejects(
      exec(process.execPath, [path.join(repoRoot, 'bin', 'islet.js'), 'tenants'], {
        env: { ...env, ISLET_ADMIN_TOKEN: 'wrong' },
      }),
      (e: { stderr: string }) =>
        e.stderr.includes('GET /v1/tenants failed with 401: the bearer token is not valid (UNAUTHORIZED)'),
    );
    // a port nobody listens on: bind one, then close it
    const probe = serve({ fetch: () => new Response(), port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((resolve) => probe.once('listening', () => resolve()));
    const closed = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await assert.rejects(
      exec(process.execPath, [path.join(repoRoot, 'bin', 'islet.js'), 'tenants'], {
        env: { ...env, ISLET_ADMIN_URL: closed },
      }),
      (e: { stderr: string }) => e.stderr.includes(`cannot reach the admin API at ${closed}: ECONNREFUSED`),
    );
  });
});

describe('deploy gate', () => {
  test('runs a few builds at once, queues a bounded number, turns the rest away with 503 BUSY', async () => {
    const gate = new DeployGate(1, 1);
    let release!: () => void;
    const order: string[] = [];
    const first = gate.run('a', async () => {
      order.push('first started');
      await new Promise<void>((r) => (release = r));
      order.push('first done');
      return 1;
    });
    const second = gate.run('b', async () => {
      order.push('second started');
      return 2;
    });
    await assert.rejects(
      gate.run('c', async () => 3),
      {
        status: 503,
        code: 'ISLET_DEPLOY_BUSY',
        message: '1 deployments are building and 1 are waiting: retry in a few seconds',
      },
    );
    assert.deepEqual(order, ['first started']);
    release();
    assert.deepEqual(await Promise.all([first, second]), [1, 2]);
    assert.deepEqual(order, ['first started', 'first done', 'second started']);
    // the slot is free again
    assert.equal(await gate.run('a', async () => 4), 4);
  });
});
