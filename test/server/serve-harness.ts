// Starts a real islet (tenant server + admin app) on 127.0.0.1 port 0 with its own data
// directory, deploys fixture functions through the deploy room's publish path (build + prepare +
// store + activate), and sends real HTTP with undici. Shared by the serve* and limits* tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { loadConfig, type Config } from '../../server/config';
import { Logger } from '../../server/observe/server-log';
import { startServing, type Serving } from '../../server/cli/serve';
import { publish } from '../../server/deploy/publish';
import { prepareDeployment } from '../../server/tenants/prepare';

export const repoRoot = path.resolve(__dirname, '../../..');
export const fixtures = path.join(repoRoot, 'test', 'fixtures', 'serve');

export interface Harness {
  serving: Serving;
  config: Config;
  /** every JSON log record written so far */
  logs: Record<string, unknown>[];
  dataDir: string;
  /** deploys fixture file(s) as `tenant` and activates them */
  deploy(
    tenant: string,
    fixture: string | Record<string, string>,
    options?: { routes?: string[]; entry?: string; compatibility?: Record<string, unknown> },
  ): Promise<string>;
  get(
    host: string,
    path?: string,
    init?: { method?: string; headers?: Record<string, string>; body?: unknown },
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>;
  url(path?: string): string;
  /** resolves once a log record matching `pred` was written (or rejects after `ms`) */
  waitForLog(pred: (r: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  /** stops the server; its data directory stays until the test process exits (tests restart on it) */
  close(): Promise<void>;
}

/** data directories made here, removed when the test file's process exits */
const created: string[] = [];
process.once('exit', () => {
  for (const dir of created) fs.rmSync(dir, { recursive: true, force: true });
});

export async function startHarness(tweak: (config: Config) => void = () => {}, dataDir?: string): Promise<Harness> {
  const dir = dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'islet-serve-'));
  if (!dataDir) created.push(dir);
  const config = loadConfig({
    env: {
      ISLET_PORT: '0',
      ISLET_HOST: '127.0.0.1',
      ISLET_ADMIN_PORT: '0',
      ISLET_DATA_DIR: dir,
      ISLET_ADMIN_TOKEN: 'test-operator-token',
    },
  });
  config.pool.sampleIntervalS = 1;
  tweak(config);
  const logs: Record<string, unknown>[] = [];
  const waiters = new Set<{
    pred: (r: Record<string, unknown>) => boolean;
    resolve: (r: Record<string, unknown>) => void;
  }>();
  const logger = new Logger(config.logLevel, (line) => {
    const record = JSON.parse(line) as Record<string, unknown>;
    logs.push(record);
    for (const w of waiters) if (w.pred(record)) waiters.delete(w), w.resolve(record);
    if (process.env.ISLET_TEST_LOGS) console.error(line);
  });
  const serving = await startServing({ config, logger });
  const base = `http://127.0.0.1:${serving.tenantPort}`;
  return {
    serving,
    config,
    logs,
    dataDir: dir,
    async deploy(tenant, fixture, options = {}) {
      const files = new Map<string, Buffer>();
      if (typeof fixture === 'string') files.set(path.basename(fixture), fs.readFileSync(path.join(fixtures, fixture)));
      else for (const [name, code] of Object.entries(fixture)) files.set(name, Buffer.from(code));
      const entry = options.entry ?? (typeof fixture === 'string' ? path.basename(fixture) : Object.keys(fixture)[0]);
      const { manifest } = await publish(
        { store: serving.store, prepare: (m, f) => prepareDeployment(m, f, { memoryMb: config.limits.memoryMb }) },
        tenant,
        files,
        { entry, routes: options.routes, compatibility: options.compatibility },
      );
      return manifest.id;
    },
    async get(host, p = '/', init = {}) {
      const res = await request(`${base}${p}`, {
        method: (init.method ?? 'GET') as 'GET',
        headers: { host, ...init.headers },
        body: init.body as string | undefined,
      });
      const text = await res.body.text();
      return { status: res.statusCode, headers: res.headers, text };
    },
    url: (p = '/') => `${base}${p}`,
    waitForLog(pred, ms = 5000) {
      const found = logs.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        waiters.add(w);
        setTimeout(() => {
          if (waiters.delete(w)) reject(new Error('no matching log record within ' + ms + ' ms'));
        }, ms).unref();
      });
    },
    close: () => serving.close(),
  };
}

/** Polls `fn` until it returns a truthy value (store watch delivers changes within about a second). */
export async function eventually<T>(fn: () => Promise<T> | T, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > until) throw new Error('condition not met within ' + ms + ' ms');
    await new Promise((r) => setTimeout(r, 50));
  }
}
