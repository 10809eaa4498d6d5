// islet nodes sharing one PostgreSQL database, for the many-machines tests: each node is a real
// `islet serve` process (alone, or a supervisor with workers) with its own ports and data
// folder, its output kept bounded and always drained, stopped (SIGTERM, or kill -9 by a test)
// and cleaned up after.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { generateSecretKey } from '../../server/store/postgres/secrets';

const repoRoot = path.resolve(__dirname, '../../..');
export const operatorToken = 'islet-nodes-operator-token';
/** every node of a test decrypts the same secrets */
export const secretKey = generateSecretKey('nodes');

export interface IsletNode {
  name: string;
  child: ChildProcess;
  port: number;
  adminPort: number;
  dataDir: string;
  output(): string;
  exit: Promise<number | null>;
  /** SIGTERM and wait (SIGKILL after 20 s); the data folder stays unless `clean` */
  stop(clean?: boolean): Promise<void>;
  /** kill -9, as a machine dying */
  kill(): Promise<void>;
}

export interface NodeOptions {
  /** ISLET_STORE_URL */
  store: string;
  /** ISLET_NODE_ID (and the label of its output) */
  name: string;
  workers?: number;
  env?: Record<string, string>;
  /** reuse a data folder (a node coming back) */
  dataDir?: string;
}

export async function until<T>(
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

export async function startNode(options: NodeOptions): Promise<IsletNode> {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `islet-node-${options.name}-`));
  const child = spawn(
    process.execPath,
    ['--no-node-snapshot', path.join(repoRoot, 'bin', 'islet.js'), 'serve', '--workers', String(options.workers ?? 0)],
    {
      env: {
        ...process.env,
        ISLET_PORT: '0',
        ISLET_HOST: '127.0.0.1',
        ISLET_ADMIN_PORT: '0',
        ISLET_DATA_DIR: dataDir,
        ISLET_ADMIN_TOKEN: operatorToken,
        ISLET_SECRET_KEY: secretKey,
        ISLET_STORE_URL: options.store,
        ISLET_NODE_ID: options.name,
        ISLET_LOG_LEVEL: 'info',
        ISLET_LOG_REQUESTS: 'false',
        ISLET_HEARTBEAT_MS: '200',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const keep = (d: Buffer | string) => {
    out += d;
    if (out.length > 4 << 20) out = out.slice(-(2 << 20));
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ports = await until(`node ${options.name} to print its ports`, () => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`islet exited early:\n${out}`);
    const tenant = /tenant traffic on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
    const adminPort = /admin API on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
    return tenant && adminPort ? { port: Number(tenant[1]), adminPort: Number(adminPort[1]) } : undefined;
  });
  const node: IsletNode = {
    name: options.name,
    child,
    ...ports,
    dataDir,
    output: () => out,
    exit,
    async stop(clean = true) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT'); // a test may have paused it
        child.kill('SIGTERM');
      }
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exit;
      clearTimeout(killer);
      if (clean) fs.rmSync(dataDir, { recursive: true, force: true });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exit;
    },
  };
  return node;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): any;
}

export async function admin(
  node: IsletNode,
  method: string,
  route: string,
  body?: string | object,
  options: { type?: string; token?: string } = {},
): Promise<Reply> {
  const payload = body === undefined || typeof body === 'string' ? body : JSON.stringify(body);
  const res = await request(`http://127.0.0.1:${node.adminPort}${route}`, {
    method: method as 'GET',
    headers: {
      authorization: `Bearer ${options.token ?? operatorToken}`,
      ...(payload !== undefined ? { 'content-type': options.type ?? 'application/json' } : {}),
    },
    body: payload,
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) };
}

export async function adminOk(node: IsletNode, method: string, route: string, body?: string | object): Promise<any> {
  const reply = await admin(node, method, route, body);
  assert.ok(reply.status < 300, `${node.name}: ${method} ${route}: ${reply.status} ${reply.text}`);
  return reply.json();
}

export async function deploy(node: IsletNode, tenant: string, source: string): Promise<any> {
  const reply = await admin(node, 'POST', `/v1/tenants/${tenant}/deployments`, source, {
    type: 'application/javascript',
  });
  assert.ok(reply.status < 300, `${node.name}: deploy ${tenant}: ${reply.status} ${reply.text}`);
  return { ...reply.json(), headers: reply.headers };
}

export async function hit(node: IsletNode, tenant: string, p = '/'): Promise<{ status: number; text: string }> {
  const res = await request(`http://127.0.0.1:${node.port}${p}`, {
    headers: { host: `${tenant}.localhost` },
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  return { status: res.statusCode, text: await res.body.text() };
}
