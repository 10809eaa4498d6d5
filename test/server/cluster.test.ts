// The process model: `islet serve --workers 2` as a real process tree. The supervisor routes a
// hostname's connections to one worker (its isolate is not duplicated), survives a worker killed
// by V8's fatal out-of-memory handler (the in-flight request gets 502, a neighbour tenant on the
// other worker never fails, the slot is refilled), replaces every worker on SIGHUP without a
// failed request, and drains on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { ownerSlot } from '../../server/cluster/routing';

const repoRoot = path.resolve(__dirname, '../../..');
const token = 'cluster-test-operator-token';

interface Islet {
  child: ChildProcess;
  port: number;
  adminPort: number;
  output(): string;
  exit: Promise<number | null>;
}

async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startIslet(workers: number, env: Record<string, string> = {}): Promise<Islet> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-cluster-'));
  const child = spawn(
    process.execPath,
    ['--no-node-snapshot', path.join(repoRoot, 'bin', 'islet.js'), 'serve', '--workers', String(workers)],
    {
      env: {
        ...process.env,
        ISLET_PORT: '0',
        ISLET_HOST: '127.0.0.1',
        ISLET_ADMIN_PORT: '0',
        ISLET_DATA_DIR: dir,
        ISLET_ADMIN_TOKEN: token,
        ISLET_LOG_LEVEL: 'info',
        ISLET_LOG_REQUESTS: 'false',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  exit.finally(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ports = await until('the supervisor to print its ports', () => {
    if (child.exitCode !== null) throw new Error(`islet exited early:\n${out}`);
    const m = /tenant traffic on http:\/\/127\.0\.0\.1:(\d+), admin API on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
    return m ? { port: Number(m[1]), adminPort: Number(m[2]) } : undefined;
  });
  return { child, ...ports, output: () => out, exit };
}

async function admin(
  islet: Islet,
  method: string,
  route: string,
  body?: string,
  type = 'application/json',
): Promise<unknown> {
  const res = await request(`http://127.0.0.1:${islet.adminPort}${route}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': type } : {}) },
    body,
  });
  const text = await res.body.text();
  assert.ok(res.statusCode < 300, `${method} ${route}: ${res.statusCode} ${text}`);
  return JSON.parse(text);
}

async function deploy(islet: Islet, tenant: string, source: string, limits?: Record<string, number>): Promise<void> {
  await admin(islet, 'POST', `/v1/tenants/${tenant}/deployments`, source, 'application/javascript');
  if (limits) await admin(islet, 'PATCH', `/v1/tenants/${tenant}`, JSON.stringify({ limits }));
}

async function get(
  islet: Islet,
  tenant: string,
  p = '/',
  dispatcher?: Agent,
): Promise<{ status: number; text: string; error?: string }> {
  const res = await request(`http://127.0.0.1:${islet.port}${p}`, {
    headers: { host: `${tenant}.localhost` },
    dispatcher,
  });
  return {
    status: res.statusCode,
    text: await res.body.text(),
    error: res.headers['islet-error'] as string | undefined,
  };
}

/** Two tenant names the supervisor gives to different worker slots. */
function namesOnDifferentSlots(): [string, string] {
  const first = 'attacker';
  const firstSlot = ownerSlot(`${first}.localhost`, [0, 1]);
  for (let i = 0; ; i++) {
    const other = `neighbour${i}`;
    if (ownerSlot(`${other}.localhost`, [0, 1]) !== firstSlot) return [first, other];
  }
}

/** Requests `tenant` in a loop until stopped; resolves with every result. */
function keepAsking(islet: Islet, tenant: string): { stop(): Promise<{ status: number; text: string }[]> } {
  const results: { status: number; text: string }[] = [];
  let running = true;
  const agent = new Agent({ connections: 2 });
  const loop = (async () => {
    while (running) {
      try {
        results.push(await get(islet, tenant, '/', agent));
      } catch (err) {
        results.push({ status: 0, text: (err as Error).message });
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await agent.close();
      return results;
    },
  };
}

const hello = (name: string) => `export default { fetch() { return new Response(${JSON.stringify(name)} + ' ok'); } };`;

test('--workers 2: connections of one hostname go to one worker, so its isolate starts once', async () => {
  const islet = await startIslet(2);
  try {
    await deploy(islet, 'solo', hello('solo'));
    await until('the deployment to be served', async () =>
      (await get(islet, 'solo')).status === 200 ? true : undefined,
    );
    // fresh connections each time: the supervisor routes every one by its Host
    for (let i = 0; i < 8; i++) {
      const agent = new Agent();
      assert.equal((await get(islet, 'solo', '/', agent)).text, 'solo ok');
      await agent.close();
    }
    const metrics = (await request(`http://127.0.0.1:${islet.adminPort}/metrics`, {
      headers: { authorization: `Bearer ${token}` },
    }).then((r) => r.body.text())) as string;
    const cold = /^islet_cold_starts_total\{tenant="solo"\} (\d+)/m.exec(metrics);
    assert.ok(cold, 'the summed scrape has the tenant cold-start counter');
    assert.equal(Number(cold[1]), 1, 'one isolate for the tenant across both workers');
    assert.match(metrics, /islet_cluster_workers\{state="answered"\} 2/);
  } finally {
    islet.child.kill('SIGTERM');
    await islet.exit;
  }
});

test(
  'a worker killed by V8 fatal out-of-memory: 502 for its request, the neighbour never fails, ' +
    'the slot is refilled',
  async () => {
    const islet = await startIslet(2);
    const [attacker, neighbour] = namesOnDifferentSlots();
    try {
      // filling a 1e8-element array runs in one builtin that never checks for termination and
      // needs gigabytes: V8's fatal OOM handler aborts the whole worker process (an array filled
      // from JavaScript, one object at a time, is now stopped at the limit instead)
      await deploy(
        islet,
        attacker,
        `export default { fetch(req) {
        if (new URL(req.url).pathname === '/boom') new Array(1e8).fill(0);
        return new Response('attacker ok');
      } };`,
        { memoryMb: 16, cpuMs: 60_000, wallMs: 120_000 },
      );
      await deploy(islet, neighbour, hello(neighbour));
      await until('both tenants to be served', async () =>
        (await get(islet, attacker)).status === 200 && (await get(islet, neighbour)).status === 200 ? true : undefined,
      );

      const traffic = keepAsking(islet, neighbour);
      const boom = await get(islet, attacker, '/boom');
      assert.equal(boom.status, 502, `the request of the dead worker: ${boom.status} ${boom.text}`);
      assert.equal(boom.error, 'worker');
      await until('a replacement worker', () => {
        const out = islet.output();
        const died = out.indexOf('"msg":"worker process died: restarting it"');
        return died !== -1 && out.indexOf('"msg":"worker ready"', died) !== -1 ? true : undefined;
      });
      // the attacker's own tenant is served again by the refilled slot
      assert.equal((await get(islet, attacker)).text, 'attacker ok');
      const results = await traffic.stop();
      assert.ok(results.length > 0);
      const failed = results.filter((r) => r.status !== 200 || r.text !== `${neighbour} ok`);
      assert.deepEqual(failed, [], 'every neighbour request succeeded during the crash');
      assert.equal(islet.child.exitCode, null, 'the supervisor is alive');
    } finally {
      islet.child.kill('SIGTERM');
      await islet.exit;
    }
  },
);

test(
  'SIGHUP replaces every worker without a failed request; SIGTERM drains in-flight requests and ' + 'exits 0',
  async () => {
    const islet = await startIslet(2);
    try {
      await deploy(islet, 'steady', hello('steady'));
      await deploy(
        islet,
        'slow',
        `export default { async fetch() { await new Promise((r) => setTimeout(r, 800)); return new ` +
          `Response('slow ok'); } };`,
      );
      await until('the deployments to be served', async () =>
        (await get(islet, 'steady')).status === 200 ? true : undefined,
      );
      const pidsBefore = [...islet.output().matchAll(/"msg":"worker ready","slot":\d+,"pid":(\d+)/g)].map((m) => m[1]);
      assert.equal(pidsBefore.length, 2);

      const traffic = keepAsking(islet, 'steady');
      await new Promise((r) => setTimeout(r, 300));
      islet.child.kill('SIGHUP');
      await until('the reload to finish', () => (islet.output().includes('"msg":"reloaded"') ? true : undefined));
      await new Promise((r) => setTimeout(r, 300));
      const results = await traffic.stop();
      const failed = results.filter((r) => r.status !== 200);
      assert.deepEqual(failed, [], 'no request failed across the reload');
      const pidsAfter = [...islet.output().matchAll(/"msg":"worker ready","slot":\d+,"pid":(\d+)/g)].map((m) => m[1]);
      assert.equal(pidsAfter.length, 4, 'two new workers became ready');
      for (const pid of pidsBefore) assert.ok(!pidsAfter.slice(2).includes(pid));

      const inFlight = get(islet, 'slow');
      await new Promise((r) => setTimeout(r, 200));
      islet.child.kill('SIGTERM');
      const finished = await inFlight;
      assert.equal(finished.status, 200);
      assert.equal(finished.text, 'slow ok');
      assert.equal(await islet.exit, 0, islet.output());
    } finally {
      islet.child.kill('SIGKILL');
    }
  },
);

test(
  'the supervisor holds one client to its connection cap before handing connections over, and ' +
    'counts what it closed',
  async () => {
    const islet = await startIslet(1, { ISLET_MAX_CONNECTIONS_PER_CLIENT: '8' });
    const sockets: net.Socket[] = [];
    try {
      await deploy(islet, 'capped', hello('capped'));
      await until('the deployment to be served', async () =>
        (await get(islet, 'capped')).status === 200 ? true : undefined,
      );
      for (let i = 0; i < 20; i++) {
        const socket = net.connect({ host: '127.0.0.1', port: islet.port });
        socket.on('error', () => {});
        sockets.push(socket);
        await new Promise((resolve) => socket.once('connect', resolve));
      }
      await new Promise((r) => setTimeout(r, 300));
      const open = sockets.filter((s) => !s.destroyed && s.readyState === 'open');
      // connections that sent no request yet stay with the supervisor, which holds the client to 8 of
      // them (one handed to a worker, such as the probe's kept-alive one, is the worker's to count)
      assert.equal(open.length, 8, `${open.length} connections kept of 20 (cap 8)`);
      // a kept one serves
      const answer = await new Promise<string>((resolve) => {
        let text = '';
        open[0]!.on('data', (d) => (text += d));
        open[0]!.once('end', () => resolve(text));
        open[0]!.write('GET / HTTP/1.1\r\nHost: capped.localhost\r\nConnection: close\r\n\r\n');
      });
      assert.match(answer, /^HTTP\/1\.1 200[\s\S]*capped ok/);
      const metrics = (await request(`http://127.0.0.1:${islet.adminPort}/metrics`, {
        headers: { authorization: `Bearer ${token}` },
      }).then((r) => r.body.text())) as string;
      const refused = /^islet_connections_refused_total (\d+)/m.exec(metrics);
      assert.ok(refused && Number(refused[1]) >= 12, `refused connections counted: ${refused?.[0]}`);
    } finally {
      for (const s of sockets) s.destroy();
      islet.child.kill('SIGTERM');
      await islet.exit;
    }
  },
);
