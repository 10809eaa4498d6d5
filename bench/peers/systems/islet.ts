// islet as a system under test, driven only through its public interfaces: `islet serve` with
// settings in ISLET_* variables, GET /healthz, the deploy API, and tenant traffic by Host.
// Request logging is turned off (workerd and the baseline log nothing per request either); the
// rest of the configuration, limits included, is islet's default.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { request, waitForHttp } from '../../lib/http';
import { freePort, groupPidsRunning, startProcess, type ServerProcess } from '../../lib/proc';
import { SystemUnavailable, type RunningSystem, type SystemContext, type SystemUnderTest } from '../system';

export interface IsletServer {
  proc: ServerProcess;
  port: number;
  adminPort: number;
  token: string;
  /** ISLET_DATA_DIR of this server (a scratch directory) */
  dataDir: string;
  /** POSTs one JavaScript module as the tenant's new active deployment; returns the API's answer. */
  deploy(tenant: string, source: string | Buffer): Promise<{ id: string; hash: string }>;
  tenantHeaders(tenant: string): Record<string, string>;
}

export interface IsletOptions {
  workers?: number;
  env?: Record<string, string>;
  /** extra arguments for `islet serve` */
  args?: string[];
  /** extra arguments for node itself (e.g. --cpu-prof) */
  nodeArgs?: string[];
}

export async function startIslet(ctx: SystemContext, name: string, opts: IsletOptions = {}): Promise<IsletServer> {
  const serveModule = path.join(ctx.repoRoot, 'dist/server/cli/serve.js');
  if (!fs.existsSync(serveModule)) {
    throw new SystemUnavailable('islet serve is not built (dist/server/cli/serve.js is missing): run npm run build');
  }
  const port = await freePort();
  const adminPort = await freePort();
  const token = crypto.randomBytes(24).toString('hex');
  const dataDir = fs.mkdtempSync(path.join(ctx.tmpDir, 'islet-data-'));
  const args = [
    '--no-node-snapshot',
    ...(opts.nodeArgs ?? []),
    path.join(ctx.repoRoot, 'bin/islet.js'),
    'serve',
    ...(opts.args ?? []),
  ];
  // Both the flag and its ISLET_WORKERS setting: whichever `islet serve` reads, it gets the count.
  if (opts.workers !== undefined) args.push('--workers', String(opts.workers));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ISLET_PORT: String(port),
    ISLET_HOST: '127.0.0.1',
    ISLET_ADMIN_PORT: String(adminPort),
    ISLET_ADMIN_HOST: '127.0.0.1',
    ISLET_METRICS_PORT: '0',
    ISLET_DATA_DIR: dataDir,
    ISLET_ADMIN_TOKEN: token,
    ISLET_BASE_DOMAIN: 'localhost',
    ISLET_EGRESS_ALLOW: '127.0.0.1',
    ISLET_LOG_REQUESTS: 'false',
    ISLET_LOG_LEVEL: 'warn',
    ...(opts.workers !== undefined ? { ISLET_WORKERS: String(opts.workers) } : {}),
    ...opts.env,
  };
  const proc = startProcess(name, process.execPath, args, { cwd: ctx.repoRoot, env });
  try {
    await waitForHttp(`http://127.0.0.1:${adminPort}/healthz`, { isAlive: proc.alive, timeoutMs: 30_000 });
  } catch (err) {
    await proc.stop();
    throw new SystemUnavailable(`islet serve did not become healthy: ${(err as Error).message}\n${proc.output()}`);
  }
  const admin = `http://127.0.0.1:${adminPort}`;
  return {
    proc,
    port,
    adminPort,
    token,
    dataDir,
    tenantHeaders: (tenant) => ({ host: `${tenant}.localhost` }),
    async deploy(tenant, source) {
      const res = await request(`${admin}/v1/tenants/${encodeURIComponent(tenant)}/deployments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/javascript' },
        body: source,
        timeoutMs: 30_000,
      });
      if (res.status !== 201) {
        throw new Error(`deploying tenant ${tenant} answered ${res.status}: ${res.body.toString('utf8', 0, 500)}`);
      }
      return JSON.parse(res.body.toString('utf8')) as { id: string; hash: string };
    },
  };
}

/** Deploys the workload as tenant `bench` and waits until tenant traffic reaches it. */
export async function startWithWorkload(ctx: SystemContext, name: string, opts: IsletOptions): Promise<RunningSystem> {
  const islet = await startIslet(ctx, name, opts);
  try {
    await islet.deploy('bench', fs.readFileSync(path.join(ctx.repoRoot, 'bench/peers/workload/worker.mjs')));
    const headers = islet.tenantHeaders('bench');
    await waitForHttp(`http://127.0.0.1:${islet.port}/hello`, {
      headers,
      isAlive: islet.proc.alive,
      timeoutMs: 15_000,
    });
    if (opts.workers && opts.workers > 1) {
      const processes = groupPidsRunning(islet.proc.pid, process.execPath).length;
      if (processes < opts.workers + 1) {
        throw new SystemUnavailable(
          `islet serve --workers ${opts.workers} runs ${processes} process(es), not a supervisor and ${opts.workers} workers: multi-worker serving is not implemented yet`,
        );
      }
    }
    return { baseUrl: `http://127.0.0.1:${islet.port}`, headers, process: islet.proc, stop: () => islet.proc.stop() };
  } catch (err) {
    await islet.proc.stop();
    if (err instanceof SystemUnavailable) throw err;
    throw new Error(`islet (${name}) failed to serve the workload: ${(err as Error).message}\n${islet.proc.output()}`);
  }
}

export const isletSingle: SystemUnderTest = {
  id: 'islet',
  label: 'islet',
  describe: 'islet serve, one process (no supervisor), workload deployed through the admin API',
  start: (ctx) => startWithWorkload(ctx, 'islet', { workers: 0 }),
};

export function isletWorkers(workers: number): SystemUnderTest {
  return {
    id: `islet-w${workers}`,
    label: `islet --workers ${workers}`,
    describe: `islet serve --workers ${workers}: a supervisor and ${workers} worker processes sharing the port`,
    start: (ctx) => startWithWorkload(ctx, `islet-w${workers}`, { workers }),
  };
}
