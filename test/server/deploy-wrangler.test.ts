// Workers projects with a wrangler file: `islet deploy <dir>` with no flags deploys one (tenant from
// `name`, entry from `main`, routes, vars, KV namespaces, cron triggers) and the CLI's `kv`,
// `bindings` and `scheduled` commands work on it; unknown keys are warnings; bad values are 400
// BAD_CONFIG naming the file, the key and what was expected; the tenant's own bindings are set
// and checked through PUT /v1/tenants/{t}/bindings.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { packFolder } from '../../server/cli/deploy';
import { bindingFixtures } from './bindings-helpers';
import { eventually, repoRoot, startIslet, TOKEN, type Islet } from '../e2e/islet';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('wrangler projects and the bindings CLI', () => {
  let islet: Islet;

  function cli(args: string[], stdin = ''): Promise<Run> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['--no-node-snapshot', path.join(repoRoot, 'bin', 'islet.js'), ...args], {
        env: {
          ...process.env,
          ISLET_ADMIN_URL: '',
          ISLET_ADMIN_PORT: String(islet.serving.adminPort),
          ISLET_ADMIN_TOKEN: TOKEN,
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.stdin.end(stdin);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  /** an upload of `files` (path -> text) as a tar.gz, through the admin API */
  async function upload(tenant: string, files: Record<string, string>) {
    const data = await packFolder(new Map(Object.entries(files).map(([p, t]) => [p, Buffer.from(t)])));
    const res = await request(`${islet.adminBase}/v1/tenants/${tenant}/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/gzip' },
      body: data,
    });
    return { status: res.statusCode, body: (await res.body.json()) as any };
  }

  const worker = `export default { fetch(request, env) { return Response.json(env); } };`;

  before(async () => {
    islet = await startIslet();
  });
  after(() => islet.close());

  it('deploys a Workers project with `islet deploy <dir>` and no flags: name, main, vars, kv, crons, routes', async () => {
    const run = await cli(['deploy', path.join(bindingFixtures, 'wrangler-project')]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^deployed \S+ to shop in \d+ ms/);
    assert.equal(run.stderr, '', 'no warning: every key is known');
    const tenant = await islet.admin('/v1/tenants/shop');
    assert.equal(tenant.status, 200);
    assert.deepEqual(tenant.body.routes, ['shop.example.test/*', 'api.example.test/v1*']);
    const answer = await eventually(async () => {
      const res = await islet.get('shop', '/anything', { headers: { host: 'shop.example.test' } });
      return res.status === 200 ? JSON.parse(res.text) : undefined;
    });
    assert.deepEqual(answer, {
      greeting: 'hello from wrangler.toml',
      limits: { pageSize: 20, currency: 'EUR' },
      host: 'shop.example.test',
      path: '/anything',
    });
    const viaApi = await islet.get('shop', '/v1/cart', { headers: { host: 'api.example.test' } });
    assert.deepEqual(JSON.parse(viaApi.text), { items: 1 });
    assert.equal(
      islet.serving.scheduler
        ?.triggers('shop')
        .map((t) => t.cron)
        .join(),
      '*/15 * * * *',
    );
    const deployment = (await islet.admin('/v1/tenants/shop/deployments')).body.deployments[0];
    assert.equal(deployment.entry, 'src/worker.js');
    assert.deepEqual(deployment.compatibility, {
      compatibility_date: '2025-06-01',
      compatibility_flags: ['nodejs_compat'],
    });
  });

  it('islet kv get|put|list|delete and usage act on the tenant namespace the worker uses', async () => {
    const ns = '3c7f5e52b3a94a0f9e2c1b7d8a6f4e21';
    assert.equal((await cli(['kv', 'get', 'shop', ns, 'items'])).stdout, '1');
    assert.equal((await cli(['kv', 'put', 'shop', ns, 'items', '41'])).code, 0);
    const viaApi = await islet.get('shop', '/v1/cart', { headers: { host: 'api.example.test' } });
    assert.deepEqual(JSON.parse(viaApi.text), { items: 42 }, 'the worker reads what the CLI wrote');
    const put = await cli(
      ['kv', 'put', 'shop', ns, 'notes/readme', '--ttl', '3600', '--metadata', '{"by":"cli"}'],
      'from stdin',
    );
    assert.equal(put.code, 0, put.stderr);
    const listed = JSON.parse((await cli(['kv', 'list', 'shop', ns, '--prefix', 'notes/', '--json'])).stdout);
    assert.equal(listed.keys.length, 1);
    assert.equal(listed.keys[0].name, 'notes/readme');
    assert.equal(listed.keys[0].metadata, '{"by":"cli"}');
    const got = JSON.parse((await cli(['kv', 'get', 'shop', ns, 'notes/readme', '--json'])).stdout);
    assert.equal(got.value, 'from stdin');
    assert.deepEqual(got.metadata, { by: 'cli' });
    assert.equal((await cli(['kv', 'delete', 'shop', ns, 'notes/readme'])).code, 0);
    const missing = await cli(['kv', 'get', 'shop', ns, 'notes/readme']);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /404: namespace '3c7f5e52b3a94a0f9e2c1b7d8a6f4e21' has no key 'notes\/readme' \(NOT_FOUND\)/,
    );
    const short = await cli(['kv', 'put', 'shop', ns, 'k', 'v', '--ttl', '10']);
    assert.match(short.stderr, /Invalid expiration_ttl of 10\. Expiration TTL must be at least 60\. \(BAD_KV\)/);
    const usage = JSON.parse((await cli(['kv', 'usage', 'shop', '--json'])).stdout);
    assert.equal(usage.usage.keys, 1);
    assert.deepEqual(usage.bound, { CARTS: ns });
  });

  it('islet scheduled runs the handler now; islet bindings shows and sets declarations', async () => {
    const ran = await cli(['scheduled', 'shop', '--json']);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(JSON.parse(ran.stdout).outcome, 'ok');
    const ns = { tenant: 'shop', namespace: '3c7f5e52b3a94a0f9e2c1b7d8a6f4e21' };
    assert.equal((await islet.serving.bindings.kv!.get(ns, 'last-cron'))?.value.toString(), '*/15 * * * *');
    const set = await cli(
      ['bindings', 'shop', '--set', '-', '--json'],
      JSON.stringify({ callers: ['web'], vars: { EXTRA: 'x' } }),
    );
    assert.equal(set.code, 0, set.stderr);
    const shown = JSON.parse(set.stdout);
    assert.deepEqual(shown.declared, { vars: { EXTRA: 'x' }, callers: ['web'] });
    assert.deepEqual(shown.effective.callers, ['web']);
    assert.equal(shown.effective.vars.EXTRA, 'x');
    assert.equal(shown.effective.vars.GREETING, 'hello from wrangler.toml', 'the deployment adds its own');
  });

  it('unknown keys and features islet does not offer are warnings, not errors', async () => {
    const res = await upload('warned', {
      'wrangler.toml': `name = "other-name"\nmain = "w.js"\nfrobnicate = true\n[[r2_buckets]]\nbinding = "B"\nbucket_name = "b"\n[env.staging]\nname = "x"\n`,
      'w.js': worker,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body.warnings, [
      'wrangler.toml: not supported by islet, ignored: r2_buckets',
      'wrangler.toml: environments ([env.*]) are not applied: the top-level settings are deployed',
      'wrangler.toml: unknown keys ignored: frobnicate',
      "wrangler.toml names the worker 'other-name'; it is deployed as tenant 'warned'",
    ]);
  });

  it('bad values are 400 BAD_CONFIG naming the file, the key and what was expected', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [
        { 'wrangler.toml': 'name = "x"\nmain = [1' },
        /^wrangler\.toml: not valid TOML: expected comma or end of structure at 2:10$/,
      ],
      [{ 'wrangler.json': '{ "name": "x", }x' }, /^wrangler\.json: not valid JSON: .* at 1:/],
      [{ 'wrangler.toml': 'name = "Not A Name"' }, /^wrangler\.toml: name: expected a worker name/],
      [
        { 'wrangler.toml': 'compatibility_date = "yesterday"' },
        /^wrangler\.toml: compatibility_date: expected a date as YYYY-MM-DD, got "yesterday"/,
      ],
      [
        { 'wrangler.toml': '[[kv_namespaces]]\nbinding = 12\nid = "x"' },
        /kv_namespaces\[0\]\.binding: expected a JavaScript identifier, got 12/,
      ],
      [
        { 'wrangler.toml': '[triggers]\ncrons = ["every minute"]' },
        /triggers\.crons\[0\]: 'every minute' is not a cron expression/,
      ],
      [
        { 'wrangler.toml': 'routes = ["*example.test/*"]' },
        /routes\[0\]: '\*example\.test\/\*': islet routes match subdomains as "\*\.example\.com\/\.\.\."/,
      ],
      [
        { 'wrangler.toml': '[vars]\nA = 1\n[[services]]\nbinding = "A"\nservice = "x"' },
        /services\[0\]: binding name 'A' is already used by vars\.A/,
      ],
    ];
    for (const [files, message] of cases) {
      const res = await upload('broken', { ...files, 'index.js': worker });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'BAD_CONFIG');
      assert.match(res.body.error.message, message);
    }
    const local = await cli(['deploy', path.join(bindingFixtures, 'kv-get-started'), '--tenant', 'kv-cli']);
    assert.equal(local.code, 0, local.stderr);
  });

  it('PUT /v1/tenants/{t}/bindings validates every value and names each problem', async () => {
    const res = await islet.admin('/v1/tenants/shop/bindings', {
      method: 'PUT',
      body: {
        kv_namespaces: [
          { binding: 'bad name', id: 'x' },
          { binding: 'OK', id: 'no/slash' },
        ],
        services: [{ binding: 'S', service: 'Not-A-Tenant' }],
        crons: ['* * *'],
        callers: ['UPPER'],
        origin: 'ftp://x',
      },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'BAD_BINDINGS');
    for (const part of [
      'kv_namespaces[0].binding: expected a JavaScript identifier',
      'kv_namespaces[1].id: expected 1-64 of A-Z a-z 0-9 _ -',
      'services[0].service: expected a tenant name',
      "crons[0]: '* * *' is not a cron expression: expected five fields",
      "callers[0]: expected a tenant name or '*'",
      'origin: expected an http(s) URL',
    ]) {
      assert.ok(res.body.error.message.includes(part), `${part} in ${res.body.error.message}`);
    }
    const unknown = await islet.admin('/v1/tenants/shop/bindings', { method: 'PUT', body: { durable_objects: [] } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error.message, /unknown key 'durable_objects'/);
  });
});
