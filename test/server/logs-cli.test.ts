// `islet logs <tenant> [--follow]` as a user runs it: the real bin/islet.js in a child process,
// against an admin server on 127.0.0.1 serving the log routes with a real bearer check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { MiddlewareHandler } from 'hono';
import { Logger } from '../../server/observe/server-log';
import { logRoutes } from '../../server/admin/logs';
import { LogHub } from '../../server/observe/tenant-logs/hub';
import { formatLine } from '../../server/cli/logs';

const root = path.resolve(__dirname, '../../..');
const islet = path.join(root, 'bin', 'islet.js');

const auth: MiddlewareHandler = async (c, next) => {
  if (c.req.header('authorization') !== 'Bearer cli-token') {
    return c.json({ error: { code: 'UNAUTHORIZED', message: 'the bearer token is not valid' } }, 401);
  }
  await next();
};

async function adminServer(t: import('node:test').TestContext) {
  const hub = new LogHub(new Logger('info', () => {}));
  const app = logRoutes(hub, { auth, tenantExists: async (name) => name === 'shop' });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections(): void }).closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { hub, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function runCli(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }>; stdout: () => string } {
  const child = spawn(process.execPath, [islet, 'logs', ...args], {
    env: { ...process.env, ISLET_ADMIN_URL: '', ISLET_ADMIN_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done, stdout: () => stdout };
}

test('islet logs prints recent lines as text, with request ids and mapped stacks', async (t) => {
  const { hub, url } = await adminServer(t);
  hub.tenantLog({ level: 'log', message: 'cart loaded', tenant: 'shop', deployment: 'd1', requestId: 'req-1' });
  hub.request({ tenant: 'shop', deployment: 'd1', requestId: 'req-1', method: 'GET', path: '/cart', status: 200, cpuMs: 1.5, wallMs: 4, cold: true });
  await hub.limitExceeded({ tenant: 'shop', deployment: 'd1', requestId: 'req-2', limit: 'cpu', measured: 51, stack: '    at spin (src/spin.ts:7:5)' });
  hub.tenantLog({ level: 'log', message: 'other tenant', tenant: 'blog', deployment: 'd1' });

  const { code, stdout, stderr } = await runCli(['shop', '--admin-url', url, '--token', 'cli-token']).done;
  assert.equal(code, 0, stderr);
  const lines = stdout.trimEnd().split('\n');
  assert.match(lines[0], /^\S+Z INFO  \[req-1\] cart loaded$/);
  assert.match(lines[1], /^\S+Z INFO  \[req-1\] GET \/cart -> 200  cpu 1\.5 ms  wall 4 ms  cold start$/);
  assert.match(lines[2], /^\S+Z WARN  \[req-2\] cpu limit exceeded \(measured 51 ms\)$/);
  assert.equal(lines[3], '    at spin (src/spin.ts:7:5)');
  assert.equal(lines.length, 4);
  assert.doesNotMatch(stdout, /other tenant/);
});

test('islet logs reads the URL and token from ISLET_ADMIN_URL / ISLET_ADMIN_TOKEN; --json prints raw lines', async (t) => {
  const { hub, url } = await adminServer(t);
  for (let i = 0; i < 5; i++) hub.tenantLog({ level: 'warn', message: `w${i}`, tenant: 'shop', deployment: 'd1' });
  const { code, stdout, stderr } = await runCli(['shop', '--json', '-n', '2'], { ISLET_ADMIN_URL: url, ISLET_ADMIN_TOKEN: 'cli-token' }).done;
  assert.equal(code, 0, stderr);
  const records = stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(records.map((r) => r.msg), ['w3', 'w4']);
  assert.equal(records[0].tenant, 'shop');
});

test('islet logs --follow prints new lines as the tenant writes them', async (t) => {
  const { hub, url } = await adminServer(t);
  hub.tenantLog({ level: 'log', message: 'old', tenant: 'shop', deployment: 'd1' });
  const cli = runCli(['shop', '--follow', '--admin-url', url, '--token', 'cli-token']);
  t.after(() => {
    cli.child.kill('SIGTERM');
  });
  const waitFor = async (pattern: RegExp) => {
    const deadline = Date.now() + 10_000;
    while (!pattern.test(cli.stdout())) {
      assert.ok(Date.now() < deadline, `timed out waiting for ${pattern}; output so far:\n${cli.stdout()}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  await waitFor(/ old\n/);
  // the follower is registered once the stream started; new lines reach it
  while (hub.followerCount('shop') === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  hub.tenantLog({ level: 'error', message: 'live failure', tenant: 'shop', deployment: 'd1', requestId: 'req-77' });
  await waitFor(/ERROR \[req-77\] live failure\n/);
  cli.child.kill('SIGTERM');
  await cli.done;
});

test('islet logs explains what was wrong: bad token, unknown tenant, no server, no tenant argument', async (t) => {
  const { url } = await adminServer(t);
  const badToken = await runCli(['shop', '--admin-url', url, '--token', 'nope']).done;
  assert.equal(badToken.code, 1);
  assert.match(badToken.stderr, /failed with 401: the bearer token is not valid \(UNAUTHORIZED\)/);
  const ghost = await runCli(['ghost', '--admin-url', url, '--token', 'cli-token']).done;
  assert.match(ghost.stderr, /failed with 404: tenant 'ghost' does not exist \(TENANT_NOT_FOUND\)/);
  // a port nobody listens on: take a free one and release it
  const probe = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => probe.once('listening', resolve));
  const closedPort = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const down = await runCli(['shop', '--admin-url', `http://127.0.0.1:${closedPort}`, '--token', 'x']).done;
  assert.equal(down.code, 1);
  assert.match(down.stderr, new RegExp(`cannot reach the admin API at http://127\\.0\\.0\\.1:${closedPort}: ECONNREFUSED`));
  const noTenant = await runCli(['--token', 'x']).done;
  assert.match(noTenant.stderr, /expected exactly one tenant name, got 0/);
});

test('formatLine shows an exception with its stack indented under it', () => {
  const text = formatLine({ time: 't', level: 'error', msg: 'TypeError: x is undefined', requestId: 'r', source: 'exception', stack: 'TypeError: x\n  at f (a.ts:1:2)' });
  assert.equal(text, 't ERROR [r] TypeError: x is undefined\n    TypeError: x\n    at f (a.ts:1:2)');
});
