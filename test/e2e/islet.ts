// A real islet for the end-to-end suites: `startServing` in this process (tenant server + admin
// app with the dashboard) on 127.0.0.1 port 0, a fresh data directory, optionally the repo's
// functions/ published the way `npm start` publishes them. Requests go over real HTTP.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { loadConfig, type Config } from '../../server/config';
import { Logger } from '../../server/observe/server-log';
import { startServing, type Serving } from '../../server/cli/serve';

export const repoRoot = path.resolve(__dirname, '../../..');
export const TOKEN = 'e2e-operator-token-0123456789';

export interface Islet {
  serving: Serving;
  /** http://127.0.0.1:<tenant port> */
  tenantBase: string;
  /** http://127.0.0.1:<admin port> */
  adminBase: string;
  /** every JSON log record written so far */
  logs: Record<string, unknown>[];
  /** a request to tenant `tenant` through its Host name */
  get(tenant: string, p?: string, init?: { method?: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>;
  /** an admin API call with the operator token; JSON bodies are encoded */
  admin(p: string, init?: { method?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export async function startIslet(options: { functions?: boolean; tweak?: (config: Config) => void } = {}): Promise<Islet> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-e2e-'));
  const config = loadConfig({
    env: {
      ISLET_PORT: '0',
      ISLET_HOST: '127.0.0.1',
      ISLET_ADMIN_PORT: '0',
      ISLET_ADMIN_HOST: '127.0.0.1',
      ISLET_DATA_DIR: dataDir,
      ISLET_ADMIN_TOKEN: TOKEN,
      ISLET_WORKERS: '0',
    },
  });
  config.pool.sampleIntervalS = 1;
  options.tweak?.(config);
  const logs: Record<string, unknown>[] = [];
  const logger = new Logger(config.logLevel, (line) => {
    logs.push(JSON.parse(line) as Record<string, unknown>);
    if (process.env.ISLET_TEST_LOGS) console.error(line);
  });
  const serving = await startServing({ config, logger, functionsDir: options.functions ? path.join(repoRoot, 'functions') : undefined });
  const tenantBase = `http://127.0.0.1:${serving.tenantPort}`;
  const adminBase = `http://127.0.0.1:${serving.adminPort}`;
  return {
    serving,
    tenantBase,
    adminBase,
    logs,
    async get(tenant, p = '/', init = {}) {
      const res = await request(`${tenantBase}${p}`, {
        method: (init.method ?? 'GET') as 'GET',
        headers: { host: `${tenant}.${config.baseDomain}`, ...init.headers },
        body: init.body,
      });
      return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
    },
    async admin(p, init = {}) {
      const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, ...init.headers };
      let body: string | undefined;
      if (init.body !== undefined) {
        body = JSON.stringify(init.body);
        headers['content-type'] = 'application/json';
      }
      const res = await request(`${adminBase}${p}`, { method: (init.method ?? 'GET') as 'GET', headers, body });
      const text = await res.body.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // NDJSON or plain text: keep it as text
      }
      return { status: res.statusCode, body: parsed };
    },
    async close() {
      await serving.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Retries `check` until it returns a value (not undefined) or `ms` passes. */
export async function eventually<T>(check: () => Promise<T | undefined>, ms = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${ms} ms${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
