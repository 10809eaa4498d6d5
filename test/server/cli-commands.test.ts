// Every admin action from a terminal, as an operator types it: bin/islet.js in a child process
// against a real islet (in this process), the admin URL from ISLET_ADMIN_PORT, the token from
// ISLET_ADMIN_TOKEN. --json answers are parsed as a script would.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, type Islet, repoRoot, startIslet, TOKEN } from '../e2e/islet';

const SCRAPE = 'cli-scrape-token-0123456789abcdef';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('islet CLI commands', () => {
  let islet: Islet;
  let dir: string;

  function run(args: string[], options: { env?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'islet.js'), ...args], {
        env: {
          ...process.env,
          ISLET_ADMIN_URL: '',
          ISLET_ADMIN_PORT: String(islet.serving.adminPort),
          ISLET_ADMIN_TOKEN: TOKEN,
          ...options.env,
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.stdin.end(options.stdin ?? '');
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  async function ok(args: string[], options?: { env?: Record<string, string>; stdin?: string }): Promise<string> {
    const result = await run(args, options);
    assert.equal(result.code, 0, `islet ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  }

  const json = async (args: string[], options?: { env?: Record<string, string>; stdin?: string }) =>
    JSON.parse(await ok([...args, '--json'], options));

  before(async () => {
    islet = await startIslet({ tweak: (config) => (config.scrapeTokens = [SCRAPE]) });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-cli-'));
    fs.mkdirSync(path.join(dir, 'fn', 'src'), { recursive: true });
  });

  after(async () => {
    await islet?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const write = (version: string) =>
    fs.writeFileSync(
      path.join(dir, 'fn', 'src', 'app.ts'),
      `export default { fetch: (r: Request) => new URL(r.url).pathname === '/boom' ? (() => { throw new Error('boom'); })() : new Response('${version}') };\n`,
    );

  it("prints its version and each command's help, the same from `help deploy` and `deploy --help`", async () => {
    assert.match(await ok(['--version']), /^islet \d+\.\d+\.\d+\n$/);
    const top = await ok(['help']);
    const viaHelp = await ok(['help', 'deploy']);
    assert.equal(await ok(['deploy', '--help']), viaHelp);
    assert.equal(await ok(['deploy', '-h']), viaHelp);
    assert.notEqual(viaHelp, top);
    assert.match(viaHelp, /^usage: islet deploy/);
    assert.match(viaHelp, /--message, -m/);
    for (const command of [
      'env',
      'secret',
      'tokens',
      'routes',
      'rollback',
      'deployments',
      'tenants',
      'logs',
      'tail',
      'workers',
    ]) {
      assert.match(await ok(['help', command]), new RegExp(`usage: islet ${command}`), command);
      assert.match(top, new RegExp(`^  ${command}\\b`, 'm'), `${command} is listed`);
    }
    assert.match(top, /npx islet/);
    const unknown = await run(['help', 'nope']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown command 'nope'/);
  });

  it('deploys a folder without package.json with --entry src/app.ts and a message, then rolls back to the previous version', async () => {
    write('one');
    const first = await json([
      'deploy',
      path.join(dir, 'fn'),
      '-t',
      'shop',
      '--entry',
      'src/app.ts',
      '-m',
      'first cut',
    ]);
    write('two');
    const second = await json(['deploy', path.join(dir, 'fn'), '-t', 'shop', '--entry', 'src/app.ts', '-m', 'second']);
    await eventually(async () => ((await islet.get('shop')).text === 'two' ? true : undefined), 5000, 'v2 served');
    const listed = await json(['deployments', 'shop']);
    assert.equal(listed.active, second.id);
    const byId = Object.fromEntries(listed.deployments.map((d: { id: string }) => [d.id, d]));
    assert.equal(byId[first.id].message, 'first cut');
    assert.equal(byId[second.id].author, 'operator');
    assert.match(await ok(['deployments', 'shop']), /operator\s+1\s+[\d.]+ KiB\s+second/);
    const shown = await ok(['deployments', 'show', 'shop', second.id]);
    assert.match(shown, /message\s+second/);
    const diff = await ok(['deployments', 'diff', 'shop', first.id, second.id]);
    assert.match(diff, /^-.*Response\('one'\)/m);
    assert.match(diff, /^\+.*Response\('two'\)/m);
    // no id: the one before the active one
    const back = await json(['rollback', 'shop']);
    assert.deepEqual([back.id, back.previous], [first.id, second.id]);
    await eventually(async () => ((await islet.get('shop')).text === 'one' ? true : undefined), 5000, 'v1 again');
    const none = await run(['rollback', 'shop']);
    assert.equal(none.code, 1);
    assert.match(
      none.stderr,
      /no deployment older than the active one \(\S+\) to roll back to \(NO_PREVIOUS_DEPLOYMENT\)/,
    );
  });

  it('gets, sets and unsets env vars; puts, lists and deletes secrets read from stdin', async () => {
    assert.deepEqual((await json(['env', 'set', 'shop', 'MODE=prod', 'GREETING=hi there'])).vars, {
      MODE: 'prod',
      GREETING: 'hi there',
    });
    assert.equal(await ok(['env', 'get', 'shop', 'GREETING']), 'hi there\n');
    assert.deepEqual((await json(['env', 'unset', 'shop', 'MODE'])).vars, { GREETING: 'hi there' });
    assert.deepEqual((await json(['secret', 'put', 'shop', 'API_KEY'], { stdin: 'sk_live_42\n' })).secrets, [
      'API_KEY',
    ]);
    assert.match(await ok(['env', 'shop']), /API_KEY\s+secret\s+\(hidden\)/);
    assert.doesNotMatch(await ok(['env', 'list', 'shop', '--json']), /sk_live_42/);
    const read = await run(['env', 'get', 'shop', 'API_KEY']);
    assert.equal(read.code, 1);
    assert.match(read.stderr, /is a secret of shop: its value cannot be read back/);
    assert.deepEqual(await json(['secret', 'list', 'shop']), { secrets: ['API_KEY'] });
    assert.deepEqual(await json(['secret', 'delete', 'shop', 'API_KEY']), { secrets: [] });
    const env = await islet.admin('/v1/tenants/shop/env');
    assert.deepEqual(env.body, { vars: { GREETING: 'hi there' }, secrets: [] });
  });

  it('creates, lists and revokes deploy tokens; makes scrape tokens that read /metrics and nothing else', async () => {
    const created = await json(['tokens', 'create', 'shop', '--description', 'ci']);
    assert.match(created.token, /^islet_/);
    const listed = await json(['tokens', 'list', 'shop']);
    assert.deepEqual(
      listed.tokens.map((t: { id: string; description: string }) => [t.id, t.description]),
      [[created.id, 'ci']],
    );
    // the new token deploys to its tenant
    assert.match(await ok(['tenants'], { env: { ISLET_ADMIN_TOKEN: created.token } }), /^shop\s/m);
    assert.deepEqual(await json(['tokens', 'revoke', 'shop', created.id]), { deleted: created.id });
    const revoked = await run(['tenants'], { env: { ISLET_ADMIN_TOKEN: created.token } });
    assert.match(revoked.stderr, /401/);

    const scrape = await json(['tokens', 'create', '--scrape']);
    assert.match(scrape.token, /^islet_scrape_/);
    assert.match(scrape.setting, /^ISLET_SCRAPE_TOKENS=sha256:[0-9a-f]{64}$/);
    // the configured one (this islet was started with it)
    const metrics = await fetch(`${islet.adminBase}/metrics`, { headers: { authorization: `Bearer ${SCRAPE}` } });
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /islet_requests_total/);
    for (const route of ['/v1/tenants', '/v1/tenants/shop/logs', '/v1/history', '/v1/workers']) {
      const refused = await fetch(`${islet.adminBase}${route}`, { headers: { authorization: `Bearer ${SCRAPE}` } });
      assert.equal(refused.status, 403, route);
    }
  });

  it('manages tenants and lists routes', async () => {
    const created = await json(['tenants', 'create', 'blog', 'cpuMs=120']);
    assert.deepEqual(created.limits, { cpuMs: 120 });
    assert.deepEqual((await json(['tenants', 'limits', 'blog', 'cpuMs=null', 'memoryMb=64'])).limits, { memoryMb: 64 });
    assert.match(await ok(['tenants', 'show', 'blog']), /limits\s+memoryMb=64/);
    const refused = await run(['tenants', 'delete', 'blog']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /add --yes to confirm/);
    assert.deepEqual(await json(['tenants', 'delete', 'blog', '--yes']), { deleted: 'blog' });
    write('routed');
    await ok(['deploy', path.join(dir, 'fn', 'src', 'app.ts'), '-t', 'routed', '--routes', 'routed.example.test/api*']);
    assert.deepEqual(
      (await json(['routes'])).routes.map((r: { route: string; tenant: string }) => [r.route, r.tenant]),
      [['routed.example.test/api*', 'routed']],
    );
    assert.match(await ok(['routes', 'routed']), /^routed\.example\.test\/api\*\s+routed\s/m);
  });

  it('shows logs filtered like wrangler tail: --status, --method, --search, --level', async () => {
    write('logged');
    await ok(['deploy', path.join(dir, 'fn'), '-t', 'logged', '--entry', 'src/app.ts']);
    await eventually(async () => ((await islet.get('logged')).text === 'logged' ? true : undefined), 5000, 'served');
    for (let i = 0; i < 3; i++) await islet.get('logged', `/ok${i}`);
    await islet.get('logged', '/boom');
    await islet.get('logged', '/posted', { method: 'POST', body: 'x' });
    const errors = await ok(['logs', 'logged', '--status', 'error']);
    assert.match(errors, /GET \/boom -> 500/);
    assert.match(errors, /boom/);
    assert.doesNotMatch(errors, /\/ok\d/);
    const posts = await ok(['logs', 'logged', '--method', 'post']);
    assert.match(posts, /POST \/posted -> 200/);
    assert.doesNotMatch(posts, /GET /);
    assert.match(await ok(['logs', 'logged', '--search', 'OK2']), /GET \/ok2 -> 200/);
    const lines = (await ok(['logs', 'logged', '--level', 'error', '--json']))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(lines.length > 0 && lines.every((r) => r.level === 'error'));
    const bad = await run(['logs', 'logged', '--status', 'fine']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /status="fine": expected ok, error, 1xx-5xx or a status code \(BAD_LOG_FILTER\)/);
  });

  it('lists the serving processes, and takes ISLET_ADMIN_URL over ISLET_ADMIN_PORT', async () => {
    const workers = await json(['workers']);
    assert.equal(workers.mode, 'single');
    assert.equal(workers.workers[0].pid, process.pid);
    assert.match(await ok(['workers']), /^one process, up /);
    const wrong = await run(['tenants'], { env: { ISLET_ADMIN_URL: 'http://127.0.0.1:1' } });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /cannot reach the admin API at http:\/\/127\.0\.0\.1:1/);
    const badPort = await run(['tenants'], { env: { ISLET_ADMIN_PORT: 'eighty' } });
    assert.match(badPort.stderr, /ISLET_ADMIN_PORT: "eighty" is not a port number/);
  });

  it('npm run bench -- --help lists the suites', async () => {
    const result = await new Promise<Run>((resolve) => {
      const child = spawn(process.execPath, [path.join(repoRoot, 'scripts', 'run-bench.js'), '--help'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /suites: .*serve/);
  });
});
