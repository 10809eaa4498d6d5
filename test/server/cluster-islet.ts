// `islet serve --workers N` as a real process tree for tests: started on free ports with its own
// data folder, its output kept (and drained: an undrained pipe would stall the server), the
// admin API and tenant traffic one call away, stopped and cleaned up after.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Dispatcher, request } from 'undici';

export const repoRoot = path.resolve(__dirname, '../../..');
export const operatorToken = 'cluster-islet-operator-token';

export interface ClusterIslet {
  child: ChildProcess;
  port: number;
  adminPort: number;
  dataDir: string;
  /** everything the tree wrote to stdout and stderr so far */
  output(): string;
  exit: Promise<number | null>;
  /** SIGTERM, wait for the exit (SIGKILL after 20 s), remove the data folder */
  stop(): Promise<void>;
}

export interface AdminReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): any;
}

export interface TenantReply {
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
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

export interface StartOptions {
  workers: number;
  env?: Record<string, string>;
  /** 'pipe' (default): stdout is read as it comes; a caller that wants to stall it reads it itself */
  onStdout?: (child: ChildProcess) => void;
}

export async function startClusterIslet(options: StartOptions): Promise<ClusterIslet> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-cluster-'));
  const child = spawn(
    process.execPath,
    ['--no-node-snapshot', path.join(repoRoot, 'bin', 'islet.js'), 'serve', '--workers', String(options.workers)],
    {
      env: {
        ...process.env,
        ISLET_PORT: '0',
        ISLET_HOST: '127.0.0.1',
        ISLET_ADMIN_PORT: '0',
        ISLET_DATA_DIR: dataDir,
        ISLET_ADMIN_TOKEN: operatorToken,
        ISLET_LOG_LEVEL: 'info',
        ISLET_LOG_REQUESTS: 'false',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  // bounded: a long test must not keep every line of a chatty server in memory
  const keep = (d: Buffer | string) => {
    out += d;
    if (out.length > 8 << 20) out = out.slice(-(4 << 20));
  };
  if (options.onStdout) options.onStdout(child);
  else child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ports = await until('the supervisor to print its ports', () => {
    if (child.exitCode !== null) throw new Error(`islet exited early:\n${out}`);
    const m = /tenant traffic on http:\/\/127\.0\.0\.1:(\d+), admin API on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
    return m ? { port: Number(m[1]), adminPort: Number(m[2]) } : undefined;
  });
  return {
    child,
    ...ports,
    dataDir,
    output: () => out,
    exit,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exit;
      clearTimeout(killer);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function admin(
  islet: ClusterIslet,
  method: string,
  route: string,
  body?: string | object,
  type = 'application/json',
): Promise<AdminReply> {
  const payload = body === undefined || typeof body === 'string' ? body : JSON.stringify(body);
  const res = await request(`http://127.0.0.1:${islet.adminPort}${route}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${operatorToken}`, ...(payload !== undefined ? { 'content-type': type } : {}) },
    body: payload,
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) };
}

/** admin() that must succeed */
export async function adminOk(
  islet: ClusterIslet,
  method: string,
  route: string,
  body?: string | object,
  type?: string,
): Promise<any> {
  const reply = await admin(islet, method, route, body, type);
  assert.ok(reply.status < 300, `${method} ${route}: ${reply.status} ${reply.text}`);
  return reply.json();
}

export function deploy(islet: ClusterIslet, tenant: string, source: string, query = ''): Promise<any> {
  return adminOk(islet, 'POST', `/v1/tenants/${tenant}/deployments${query}`, source, 'application/javascript');
}

/** a request to the tenant port with Host `host` (`<tenant>.localhost` for a tenant) */
export async function hit(
  islet: ClusterIslet,
  host: string,
  p = '/',
  init: { method?: string; dispatcher?: Dispatcher; timeoutMs?: number } = {},
): Promise<TenantReply> {
  const res = await request(`http://127.0.0.1:${islet.port}${p}`, {
    method: (init.method ?? 'GET') as 'GET',
    headers: { host },
    dispatcher: init.dispatcher,
    headersTimeout: init.timeoutMs ?? 30_000,
    bodyTimeout: init.timeoutMs ?? 30_000,
  });
  return { status: res.statusCode, text: await res.body.text(), headers: res.headers };
}

/** the summed Prometheus scrape of every worker (through the admin port) */
export async function scrape(islet: ClusterIslet): Promise<string> {
  const res = await request(`http://127.0.0.1:${islet.adminPort}/metrics`, {
    headers: { authorization: `Bearer ${operatorToken}` },
  });
  return res.body.text();
}

/** the value of one series in a scrape (0 when absent) */
export function series(body: string, name: string, labels = ''): number {
  const escaped = `${name}${labels ? `{${labels}}` : ''}`.replace(/[{}"[\]().*+?^$|\\]/g, '\\$&');
  const m = new RegExp(`^${escaped} ([0-9.e+-]+)$`, 'm').exec(body);
  return m ? Number(m[1]) : 0;
}
