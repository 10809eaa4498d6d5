// The hostile suite's world: a real islet (tenant server + admin app) started in this process
// on 127.0.0.1 port 0 with its own data directory, tenants deployed only through the admin API,
// a well-behaved neighbour tenant asked continuously while an attack runs, and a guard that
// makes sure no test, even one whose attack gets through, ever opens a connection beyond
// loopback (the machine must never send traffic to 10.x, 169.254.169.254 and the like).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { loadConfig, type Config } from '../../server/config';
import { Logger } from '../../server/observe/server-log';
import { startServing, type Serving } from '../../server/cli/serve';

export const repoRoot = path.resolve(__dirname, '../../..');

/** hosts a connection of this process may go to; anything else is refused and recorded */
function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost') return true;
  if (net.isIPv4(bare)) return bare.startsWith('127.');
  return bare === '::1';
}

/** connection attempts the guard refused (must stay empty) */
export const outsideAttempts: string[] = [];

let guardInstalled = false;
/**
 * Wraps net.Socket#connect (which net.connect, tls.connect and so undici all end in): a TCP
 * connection to anything but loopback is destroyed before it is made and recorded. The egress
 * guard under test connects to the resolved address, so a failure of it shows up here as a
 * recorded attempt instead of a packet leaving the machine.
 */
export function installOutboundGuard(): void {
  if (guardInstalled) return;
  guardInstalled = true;
  const original = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
    let options = args[0] as { host?: string; path?: string } | unknown[] | number | string;
    if (Array.isArray(options)) options = options[0] as { host?: string };
    let host: string | undefined;
    if (typeof options === 'object' && options !== null) {
      if (!(options as { path?: string }).path) host = (options as { host?: string }).host ?? 'localhost';
    } else if (typeof options === 'number' || (typeof options === 'string' && /^\d+$/.test(options))) {
      host = typeof args[1] === 'string' ? args[1] : 'localhost';
    }
    if (host !== undefined && !isLoopback(host)) {
      outsideAttempts.push(host);
      process.nextTick(() =>
        this.destroy(new Error(`test guard: refused a connection to ${host} (only loopback is allowed here)`)),
      );
      return this;
    }
    return (original as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof original;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** the body could not be read to its end (the server cut the connection) */
  aborted?: string;
}

export interface Islet {
  serving: Serving;
  config: Config;
  /** every server log record, parsed */
  logs: Record<string, unknown>[];
  /** bytes of server log output written so far */
  logBytes(): number;
  admin(method: string, p: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
  /** creates `tenant` with `limits` and uploads `code` as its active deployment; returns the upload reply */
  deploy(
    tenant: string,
    code: string,
    options?: { limits?: Record<string, number>; query?: string; mark?: string },
  ): Promise<Reply>;
  /** like deploy, but asserts 201 and waits until the tenant answers `/__ping` */
  deployReady(tenant: string, code: string, limits?: Record<string, number>): Promise<void>;
  /** a request to `tenant` (Host: <tenant>.localhost, or `init.host` when given) */
  hit(
    tenant: string,
    p?: string,
    init?: { method?: string; body?: string; timeoutMs?: number; host?: string },
  ): Promise<Reply>;
  close(): Promise<void>;
}

export async function startIslet(tweak: (config: Config) => void = () => {}): Promise<Islet> {
  installOutboundGuard();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-hostile-'));
  const config = loadConfig({
    env: {
      ISLET_PORT: '0',
      ISLET_HOST: '127.0.0.1',
      ISLET_ADMIN_PORT: '0',
      ISLET_DATA_DIR: dataDir,
      ISLET_ADMIN_TOKEN: 'hostile-operator-token',
    },
  });
  config.pool.sampleIntervalS = 1;
  // every attacker and neighbour here is one client (127.0.0.1): the per-client connection cap
  // (its own case in platform.test.ts) would otherwise refuse floods that test other limits
  config.server.maxConnectionsPerClient = 0;
  tweak(config);
  const logs: Record<string, unknown>[] = [];
  let bytes = 0;
  const logger = new Logger(config.logLevel, (line) => {
    bytes += Buffer.byteLength(line) + 1;
    // the suite's own memory must stay bounded too, whatever a tenant logs
    if (logs.length < 200_000) logs.push(JSON.parse(line) as Record<string, unknown>);
    if (process.env.ISLET_TEST_LOGS) console.error(line);
  });
  const serving = await startServing({ config, logger });
  const adminBase = `http://127.0.0.1:${serving.adminPort}`;
  const tenantBase = `http://127.0.0.1:${serving.tenantPort}`;

  async function send(
    url: string,
    init: { method: string; headers: Record<string, string>; body?: string; timeoutMs?: number },
  ): Promise<Reply> {
    const timeout = init.timeoutMs ?? 15_000;
    const res = await request(url, {
      method: init.method as 'GET',
      headers: init.headers,
      body: init.body,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
    const chunks: Buffer[] = [];
    let aborted: string | undefined;
    try {
      for await (const chunk of res.body) chunks.push(chunk as Buffer);
    } catch (error) {
      aborted = (error as Error).message;
    }
    const reply: Reply = { status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') };
    if (aborted !== undefined) reply.aborted = aborted;
    return reply;
  }

  const islet: Islet = {
    serving,
    config,
    logs,
    logBytes: () => bytes,
    admin(method, p, body, headers = {}) {
      const h: Record<string, string> = { authorization: `Bearer ${serving.operatorToken}`, ...headers };
      let payload: string | undefined;
      if (body !== undefined) {
        payload = typeof body === 'string' ? body : JSON.stringify(body);
        h['content-type'] ??= 'application/json';
      }
      return send(`${adminBase}${p}`, { method, headers: h, body: payload });
    },
    async deploy(tenant, code, options = {}) {
      const put = await islet.admin('PUT', `/v1/tenants/${tenant}`, { limits: options.limits ?? {} });
      assert.ok(put.status === 201 || put.status === 200, `PUT /v1/tenants/${tenant}: ${put.status} ${put.text}`);
      // __MARK__ in the code becomes a string unique to this upload (see attacker())
      const source = code.replaceAll('__MARK__', JSON.stringify(options.mark ?? Math.random().toString(36).slice(2)));
      return islet.admin('POST', `/v1/tenants/${tenant}/deployments${options.query ?? ''}`, source, {
        'content-type': 'application/javascript',
      });
    },
    async deployReady(tenant, code, limits) {
      const mark = Math.random().toString(36).slice(2);
      const res = await islet.deploy(tenant, code, { limits, mark });
      assert.equal(res.status, 201, `deploying ${tenant}: ${res.text}`);
      // the tenant layer learns of the activation through the store's watcher
      const until = Date.now() + 10_000;
      for (;;) {
        const ping = await islet.hit(tenant, '/__ping');
        if (ping.status === 200 && ping.text === `pong ${mark}`) return;
        assert.ok(
          Date.now() < until,
          `${tenant} never answered /__ping with its new deployment (last: ${ping.status} ${ping.text})`,
        );
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    hit(tenant, p = '/', init = {}) {
      const h: Record<string, string> = { host: init.host ?? `${tenant}.localhost` };
      return send(`${tenantBase}${p}`, {
        method: init.method ?? 'GET',
        headers: h,
        body: init.body,
        timeoutMs: init.timeoutMs,
      });
    },
    async close() {
      await serving.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return islet;
}

/**
 * Wraps a tenant's module body so every attacker also answers `/__ping` with its upload's mark
 * (how the suite knows the new code is live) and reaches the attack on any other path. `body`
 * is the text of `async fetch(request, env, ctx) { ... }`'s block.
 */
export function attacker(body: string, prelude = ''): string {
  return `${prelude}
export default {
  async fetch(request, env, ctx) {
    if (new URL(request.url).pathname === '/__ping') return new Response('pong ' + __MARK__);
    ${body}
  },
};
`;
}

/** the neighbour's answer: also proves built-ins in its isolate were not polluted by anyone */
export const neighbourCode = `
const seen = { secret: null };
export default {
  fetch(request, env) {
    if (new URL(request.url).pathname === '/__ping') return new Response('pong ' + __MARK__);
    seen.secret = env.NEIGHBOUR_SECRET;
    globalThis.neighbourSecret = env.NEIGHBOUR_SECRET;
    const clean =
      ({}).polluted === undefined &&
      [1, 2].map((x) => x * 2).join() === '2,4' &&
      'ab'.toUpperCase() === 'AB' &&
      JSON.stringify({ a: 1 }) === '{"a":1}' &&
      typeof Promise.prototype.then === 'function' && !('hacked' in Promise.prototype) &&
      Object.keys({}).length === 0 && Array.isArray([]) && Math.max(1, 2) === 2;
    return new Response(clean ? 'neighbour ok' : 'neighbour POLLUTED');
  },
};
`;

export interface NeighbourReport {
  count: number;
  failures: string[];
}

/**
 * Runs `attack` while the neighbour tenant is asked in a loop (each request awaited, a few ms
 * apart); returns the attack's result once both finished, and asserts that the neighbour answered
 * every request with 200 'neighbour ok' and that the server still reports healthy.
 */
export async function whileNeighbourServed<T>(islet: Islet, attack: () => Promise<T>): Promise<T> {
  let stop = false;
  const report: NeighbourReport = { count: 0, failures: [] };
  const loop = (async () => {
    while (!stop) {
      try {
        const r = await islet.hit('neighbour', '/', { timeoutMs: 10_000 });
        report.count++;
        if (r.status !== 200 || r.text !== 'neighbour ok') report.failures.push(`${r.status} ${r.text.slice(0, 200)}`);
      } catch (error) {
        report.count++;
        report.failures.push(`request failed: ${(error as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  let result: T;
  try {
    result = await attack();
  } finally {
    // one more neighbour round after the attack settled, so a crash at its very end shows too
    await new Promise((r) => setTimeout(r, 20));
    stop = true;
    await loop;
  }
  assert.ok(report.count > 0, 'the neighbour was asked during the attack');
  assert.deepEqual(report.failures, [], `every neighbour request succeeded (${report.count} asked)`);
  const health = await islet.admin('GET', '/healthz');
  assert.equal(health.status, 200, 'the server is alive after the attack');
  assert.deepEqual(outsideAttempts, [], 'no connection left loopback');
  return result;
}
