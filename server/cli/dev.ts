// `islet dev <dir>`: one function served locally the way production serves it. Nothing here is a
// second runtime: the folder is published through the deploy room's path (build, validation in
// a fresh isolate, store, activation) into a real FsDeploymentStore in a temporary directory,
// and served by `startServing` (same front server, pool, limits, shims and admin app). What dev
// adds is the loop around it: a file changes (dev-watch.ts) -> rebuild -> the store activates the
// new version -> the tenant layer swaps isolates; the build error or a thrown error's mapped
// stack in the browser instead of a 404 or a bare 500 (dev-pages.ts); and terminal output a
// person reads instead of JSON lines (dev-output.ts).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type Config, loadConfig } from '../config';
import { deployDirectory } from '../deploy/directory';
import { CliError } from '../errors';
import { Logger } from '../observe/server-log';
import { SourceMapper } from '../observe/tenant-logs/source-maps';
import type { DeploymentManifest } from '../store/types';
import { prepareDeployment } from '../tenants/prepare';
import { DevPrinter, formatRecord, paint } from './dev-output';
import { explainFailures, sendBuildError, wantsHtml } from './dev-pages';
import { type DevWatcher, watchFolder } from './dev-watch';
import { type Serving, startServing } from './serve';
import { testScheduled } from '../bindings/cron/test-scheduled';
import { type DevInspector, startInspector } from './dev-inspector';
import { version } from '../main';

export { formatRecord } from './dev-output';

const usageText = `usage: islet dev <dir> [--port N] [--tenant NAME] [--env KEY=VALUE]... [--config <file>] [--no-watch]
                 [--test-scheduled] [--inspect[=port]]

Serves the function in <dir> (a folder with index.ts / index.js, or one file) on
http://localhost:<port>/ with the same runtime, shims and limits as 'islet serve', rebuilds it
when a file changes, and prints its console output, requests and errors (stacks mapped to your
source files). While a build fails, requests get the build error (a page in a browser). The
store lives in a temporary directory removed on exit. The dashboard listens on
ISLET_ADMIN_PORT when set (else a free port), with ISLET_ADMIN_TOKEN (else a generated token).

  --port N          port for the function (default 8787; 0 picks a free one)
  --tenant NAME     tenant name (default: the folder's name)
  --env KEY=VALUE   an env var given to the function (repeatable)
  --config <file>   settings file, as for 'islet serve' (limits, egress...)
  --no-watch        serve once, do not rebuild on change
  --test-scheduled  /__scheduled?cron=<expression> runs the scheduled handler now (as wrangler dev's)
  --inspect[=port]  Chrome DevTools debugging on 127.0.0.1:<port> (default 9229): breakpoints and
                    stepping in your TypeScript, console, variables; time limits are lifted`;

export const usage: Record<string, string> = { dev: usageText };

export interface DevOptions {
  dir: string;
  port?: number;
  tenant?: string;
  env?: Record<string, string>;
  watch?: boolean;
  /** --test-scheduled: /__scheduled?cron=... runs the scheduled handler */
  testScheduled?: boolean;
  /** settings file (--config) */
  configFile?: string;
  /** --inspect[=port]: Chrome DevTools on this port of 127.0.0.1 (0: a free one) */
  inspect?: number;
  /** where human-readable lines go (default stderr) */
  print?: (line: string) => void;
  /** colours in the output (default: when printing to a TTY) */
  color?: boolean;
  /** called once the ports listen, before the first build (the CLI prints its banner there) */
  onListening?: (info: {
    tenant: string;
    url: string;
    adminUrl: string;
    tenantPort: number;
    operatorToken: string;
  }) => void;
  /**
   * Called once the first build is served, with the dev server: where local bindings (KV, cache,
   * cron) and `--test-scheduled` plug in when they come (issue 19), without another loop.
   */
  extend?: (dev: DevServer) => void | Promise<void>;
}

export interface DevServer {
  serving: Serving;
  tenant: string;
  /** http://localhost:<port>/ */
  url: string;
  /** the dashboard on the admin port, for the curious */
  adminUrl: string;
  /** id of the deployment being served */
  readonly deployment: string;
  /** the last build's error while it failed, else null */
  readonly buildError: string | null;
  /** rebuilds now (what a file change does); resolves with the deployment served afterwards */
  reload(): Promise<string>;
  /** --inspect: where DevTools connects */
  inspector?: DevInspector;
  close(): Promise<void>;
}

/** A tenant name from a folder name: lower-case letters, digits and dashes. */
export function tenantNameFor(dir: string): string {
  const base = path
    .basename(path.resolve(dir))
    .replace(/\.[^.]+$/, '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return /^[a-z0-9]/.test(base) ? base.slice(0, 63) : 'dev';
}

/** `1 module`, `3 modules` */
function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function devConfig(options: DevOptions, dataDir: string, port: number): Config {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ISLET_PORT: String(port),
    ISLET_HOST: '127.0.0.1',
    // the operator's chosen admin port (scripts and bookmarks find the dashboard), else any free one
    ISLET_ADMIN_PORT: process.env.ISLET_ADMIN_PORT || '0',
    ISLET_ADMIN_HOST: '127.0.0.1',
    ISLET_DATA_DIR: dataDir,
    ISLET_WORKERS: '0',
    ISLET_METRICS_PORT: '0',
    ISLET_LOG_REQUESTS: 'true',
    ISLET_ADMIN_TOKEN: process.env.ISLET_ADMIN_TOKEN || randomBytes(24).toString('base64url'),
  };
  return loadConfig({ argv: options.configFile ? ['--config', options.configFile] : [], env });
}

/** The function's port, bound before anything else so a busy port is reported at once. */
function listen(port: number): Promise<http.Server> {
  const server = http.createServer();
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new CliError(
              `islet dev: port ${port} is already in use: pick another with --port N (0 picks a free one)`,
              'ISLET_CLI_PORT_IN_USE',
            )
          : error,
      ),
    );
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** A deployment's stack frames mapped through its own source maps, before it is stored. */
function mapWithFiles(manifest: DeploymentManifest, files: Map<string, Buffer>, stack: string): Promise<string> {
  const mapper = new SourceMapper({
    getDeployment: async () => manifest,
    readFile: async (_t, _id, p) => {
      const file = files.get(p);
      if (!file) throw new Error(`no ${p}`);
      return file;
    },
  });
  return mapper.mapStack(manifest.tenant, manifest.id, stack);
}

/** Starts serving `options.dir`; resolves once the first build is served (or failed and was reported). */
export async function startDev(options: DevOptions): Promise<DevServer> {
  const dir = path.resolve(options.dir);
  if (!fs.existsSync(dir)) throw new CliError(`islet dev: ${options.dir} does not exist`, 'ISLET_CLI_NO_FOLDER');
  const print = options.print ?? ((line: string) => process.stderr.write(`${line}\n`));
  const color = options.color ?? (options.print === undefined && process.stderr.isTTY === true);
  const c = paint(color);
  const tenant = options.tenant ?? tenantNameFor(dir);

  const server = await listen(options.port ?? 8787);
  const tenantPort = (server.address() as AddressInfo).port;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-dev-'));
  let config: Config;
  try {
    config = devConfig(options, dataDir, tenantPort);
    if (options.inspect !== undefined) {
      // time spent paused at a breakpoint must not cut the request it stopped
      config.limits.wallMs = 3_600_000;
      config.limits.cpuMs = 600_000;
      config.pool.idleTimeoutS = Math.max(config.pool.idleTimeoutS, 3600);
    }
  } catch (error) {
    server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  let printer: DevPrinter | undefined;
  let inspector: DevInspector | undefined;
  /** uncaught errors by request id, for the browser's error page (the newest few) */
  const exceptions = new Map<string, { message: string; stack?: string }>();
  const logger = new Logger(config.logLevel, (line) => {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return print(line);
    }
    if (record.source === 'tenant' && typeof record.msg === 'string')
      inspector?.console(String(record.consoleLevel ?? 'log'), record.msg);
    if (record.source === 'exception' && typeof record.requestId === 'string') {
      exceptions.set(record.requestId, { message: String(record.msg), stack: record.stack as string | undefined });
      if (exceptions.size > 100) exceptions.delete(exceptions.keys().next().value as string);
    }
    if (printer) printer.record(record);
    else {
      const text = formatRecord(record, color);
      if (text !== null) print(text);
    }
  });

  let serving: Serving;
  try {
    serving = await startServing({ config, logger, listenTenant: false, inspector: options.inspect !== undefined });
  } catch (error) {
    server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE' || /EADDRINUSE/.test((error as Error).message)) {
      throw new CliError(
        `islet dev: admin port ${config.adminPort} is already in use: unset ISLET_ADMIN_PORT or pick another`,
        'ISLET_CLI_PORT_IN_USE',
      );
    }
    throw error;
  }
  const { store } = serving;
  printer = new DevPrinter(print, color, new SourceMapper(store));
  const say = (text: string) => printer!.line(text);
  if (options.env && Object.keys(options.env).length > 0) {
    await store.putTenant({ name: tenant, createdAt: new Date().toISOString(), active: null });
    await store.putEnv(tenant, { vars: options.env, secrets: {} });
  }
  const prepare = async (manifest: DeploymentManifest, files: Map<string, Buffer>) => {
    try {
      return await prepareDeployment(manifest, files, {
        memoryMb: config.limits.memoryMb,
        startupTimeoutMs: config.pool.startupTimeoutMs,
      });
    } catch (error) {
      // a top-level throw: its stack points into the built modules until mapped with this build's maps
      const e = error as { tenantStack?: string; stack?: string };
      if (typeof e.tenantStack === 'string') e.tenantStack = await mapWithFiles(manifest, files, e.tenantStack);
      throw error;
    }
  };
  // Any host name of this machine reaches the function, not only <tenant>.localhost.
  const routes = ['localhost/*', '127.0.0.1/*'];

  let served = '';
  let buildError: string | null = null;
  let building: Promise<string> | null = null;
  let again = false;

  /**
   * The store tells the serving side about an activation within ~250 ms, and the tenant directory
   * then reloads the tenant (routes included). Waiting for the directory to hold the new id makes
   * "serving" on the terminal true: the next request runs the new code.
   */
  async function servedFrom(id: string): Promise<boolean> {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const state = await serving.directory.get(tenant);
      if (state?.manifest.id === id) return true;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return false;
  }

  async function buildOnce(): Promise<string> {
    const started = Date.now();
    try {
      const { manifest, stored } = await deployDirectory(store, tenant, dir, { routes, prepare, logger });
      buildError = null;
      if (!stored) {
        say(`${c.dim('no change in the build')} (${manifest.id})`);
        served = manifest.id;
        return served;
      }
      if (!(await servedFrom(manifest.id)))
        say(c.yellow(`${manifest.id} is stored and active but not served yet: the store watcher is late`));
      served = manifest.id;
      const warnings = manifest.warnings.length
        ? `\n${manifest.warnings.map((w) => `  ${c.yellow('warning')} ${w}`).join('\n')}`
        : '';
      say(
        `${c.green('✓')} built and serving ${manifest.id} ` +
          `(${plural(manifest.modules.length, 'module')}, ${Date.now() - started} ms)${warnings}`,
      );
    } catch (error) {
      const e = error as Error & { code?: string };
      buildError = e.message;
      say(`${c.red('✗')} build failed${e.code ? ` [${e.code}]` : ''}: ${e.message}`);
      say(c.dim('  requests get this error until a build succeeds: fix it and save'));
    }
    return served;
  }

  /** Serializes builds: a change during a build schedules exactly one more. */
  function reload(): Promise<string> {
    if (building) {
      again = true;
      return building;
    }
    building = (async () => {
      let id: string;
      do {
        again = false;
        id = await buildOnce();
      } while (again);
      building = null;
      return id;
    })();
    return building;
  }

  // the function's port: the build error while there is one, else the front server (a browser
  // gets a page for the function's uncaught errors)
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (buildError !== null) return sendBuildError(req, res, tenant, buildError);
    if (options.testScheduled && testScheduled(req, res, serving.cron, tenant)) return;
    if (wantsHtml(req)) {
      explainFailures(res, async (requestId) => {
        const deadline = Date.now() + 1500;
        while (!exceptions.has(requestId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        return exceptions.get(requestId) ?? null;
      });
    }
    serving.tenantServer.emit('request', req, res);
  });

  let watcher: DevWatcher | null = null;
  if (options.watch !== false) {
    const target = fs.statSync(dir).isFile() ? path.dirname(dir) : dir;
    watcher = watchFolder(
      target,
      (file) => {
        say(c.dim(`change in ${file}: rebuilding`));
        void reload();
      },
      (error) => say(`${c.yellow('watch error')}: ${error.message}`),
    );
    await watcher.ready;
  }

  const url = `http://localhost:${tenantPort}/`;
  const adminUrl = `http://127.0.0.1:${serving.adminPort}/`;
  options.onListening?.({ tenant, url, adminUrl, tenantPort, operatorToken: serving.operatorToken });
  await reload();
  if (options.inspect !== undefined) {
    const s = serving;
    const started = await startInspector({
      port: options.inspect,
      tenant,
      pool: s.pool,
      directory: s.directory,
      store: s.store,
      version: version(),
    }).catch(async (error: Error) => {
      await s.close();
      server.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
      throw new CliError(`islet dev: ${error.message}`, 'ISLET_CLI_PORT_IN_USE');
    });
    inspector = started;
    say(
      `${c.bold('debugger')}: ${started.webSocketUrl} (chrome://inspect, or open ` +
        `devtools://devtools/bundled/js_app.html?v8only=true&ws=127.0.0.1:${started.port}/islet-dev)`,
    );
  }
  await printer.flushed();
  let closing: Promise<void> | undefined;
  const dev: DevServer = {
    serving,
    tenant,
    url,
    adminUrl,
    get deployment() {
      return served;
    },
    get buildError() {
      return buildError;
    },
    reload,
    inspector,
    close: () =>
      (closing ??= (async () => {
        await inspector?.close();
        await watcher?.close();
        await building?.catch(() => {});
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await serving.close();
        await printer!.flushed();
        fs.rmSync(dataDir, { recursive: true, force: true });
      })()),
  };
  await options.extend?.(dev);
  return dev;
}

function parseArgs(args: string[]): DevOptions {
  const options: DevOptions = { dir: '', env: {} };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined || v === '') throw new CliError(`islet dev: ${flag} needs a value\n\n${usageText}`);
      return v;
    };
    switch (flag) {
      case '--port': {
        const port = Number(value());
        if (!Number.isInteger(port) || port < 0 || port > 65535)
          throw new CliError(`islet dev: --port must be a port number (0-65535)`);
        options.port = port;
        break;
      }
      case '--tenant': {
        const name = value();
        if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name))
          throw new CliError(`islet dev: --tenant '${name}' must be lower-case letters, digits and dashes`);
        options.tenant = name;
        break;
      }
      case '--env': {
        const pair = value();
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new CliError(`islet dev: --env expects KEY=VALUE, got '${pair}'`);
        options.env![pair.slice(0, eq)] = pair.slice(eq + 1);
        break;
      }
      case '--config':
        options.configFile = value();
        break;
      case '--test-scheduled':
        options.testScheduled = true;
        break;
      case '--no-watch':
        options.watch = false;
        break;
      case '--inspect': {
        const port = inline === undefined ? 9229 : Number(inline);
        if (!Number.isInteger(port) || port < 0 || port > 65535)
          throw new CliError(`islet dev: --inspect=<port> must be a port number (0-65535), got '${inline}'`);
        options.inspect = port;
        break;
      }
      default:
        if (arg.startsWith('-')) throw new CliError(`islet dev: unknown option ${arg}\n\n${usageText}`);
        if (options.dir) throw new CliError(`islet dev: one folder at a time (got '${options.dir}' and '${arg}')`);
        options.dir = arg;
    }
  }
  if (!options.dir) throw new CliError(`islet dev: which function? Give its folder.\n\n${usageText}`);
  return options;
}

export async function run(_command: string, args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(usageText);
    return;
  }
  const options = parseArgs(args);
  const c = paint(process.stderr.isTTY === true);
  const dev = await startDev({
    ...options,
    onListening: ({ tenant, url, adminUrl, tenantPort, operatorToken }) =>
      process.stderr.write(
        `${c.bold('islet dev')}: ${options.dir} is tenant "${tenant}" on ${c.cyan(url)} ` +
          `(also http://${tenant}.localhost:${tenantPort}/)\n` +
          `  dashboard ${adminUrl} (token: ${process.env.ISLET_ADMIN_TOKEN ? 'ISLET_ADMIN_TOKEN' : operatorToken})\n` +
          (options.watch === false ? '' : `  watching ${options.dir} for changes; Ctrl-C to stop\n`),
      ),
  });
  await new Promise<void>((resolve) => {
    const stop = () => void dev.close().finally(resolve);
    // Ctrl-C reaches this process twice (from the terminal and forwarded by bin/islet.js): keep
    // handling it, so a second signal cannot kill the process before the temp store is removed
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  process.exit(0);
}
