// `islet dev <dir>`: one function served locally the way production serves it. Nothing here is a
// second runtime: the folder is published through the deploy room's path (build, validation in
// a fresh isolate, store, activation) into a real FsDeploymentStore in a temporary directory,
// and served by `startServing` (same front server, pool, limits, shims and admin app). What dev
// adds is the loop around it: a file changes -> rebuild -> the store activates the new version
// -> the tenant layer swaps isolates; and terminal output a person reads instead of JSON lines.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../config';
import { CliError } from '../errors';
import { Logger } from '../observe/server-log';
import { deployDirectory } from '../deploy/directory';
import { prepareDeployment } from '../tenants/prepare';
import { startServing, type Serving } from './serve';

const usageText = `usage: islet dev <dir> [--port N] [--tenant NAME] [--env KEY=VALUE]... [--config <file>] [--no-watch]

Serves the function in <dir> (a folder with index.ts / index.js, or one file) on
http://localhost:<port>/ with the same runtime, shims and limits as 'islet serve', rebuilds it
when a file changes, and prints its console output, requests and errors (stacks mapped to your
source files). The store lives in a temporary directory removed on exit.

  --port N          port for the function (default 8787; 0 picks a free one)
  --tenant NAME     tenant name (default: the folder's name)
  --env KEY=VALUE   an env var given to the function (repeatable)
  --config <file>   settings file, as for 'islet serve' (limits, egress...)
  --no-watch        serve once, do not rebuild on change`;

export const usage: Record<string, string> = { dev: usageText };

export interface DevOptions {
  dir: string;
  port?: number;
  tenant?: string;
  env?: Record<string, string>;
  watch?: boolean;
  /** settings file (--config) */
  configFile?: string;
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
  /** rebuilds now (what a file change does); resolves with the deployment served afterwards */
  reload(): Promise<string>;
  close(): Promise<void>;
}

/** Folders and files whose changes never affect the build. */
const IGNORED = /(^|[/\\])(node_modules|\.git|\.islet|\.DS_Store)([/\\]|$)|~$|\.swp$/;

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

const paint = (on: boolean) => {
  const wrap = (code: number) => (text: string) => (on ? `\x1b[${code}m${text}\x1b[0m` : text);
  return { dim: wrap(2), red: wrap(31), green: wrap(32), yellow: wrap(33), cyan: wrap(36), bold: wrap(1) };
};

/**
 * Turns the server's JSON log records into terminal lines: the function's console output, one
 * line per request, limit cuts and uncaught errors with their (already source-mapped) stacks,
 * and the server's own warnings. Routine server info is left out.
 */
export function formatRecord(record: Record<string, unknown>, color = false): string | null {
  const c = paint(color);
  const time = c.dim(String(record.time ?? '').slice(11, 23));
  const stack = typeof record.stack === 'string' ? '\n' + indent(record.stack) : '';
  switch (record.source) {
    case 'tenant': {
      const level = String(record.consoleLevel ?? record.level ?? 'log');
      const tag =
        level === 'error'
          ? c.red(level.padEnd(5))
          : level === 'warn'
            ? c.yellow(level.padEnd(5))
            : c.cyan(level.padEnd(5));
      return `${time} ${tag} ${String(record.msg ?? '')}`;
    }
    case 'request': {
      const status = Number(record.status);
      const shown =
        status >= 500 ? c.red(String(status)) : status >= 400 ? c.yellow(String(status)) : c.green(String(status));
      const cold = record.cold ? c.dim(' cold') : '';
      const cpu = c.dim(`(cpu ${record.cpuMs} ms)`);
      return `${time} ${record.method} ${record.path} ${shown} ${record.wallMs} ms ${cpu}${cold}`;
    }
    case 'limit':
      return (
        `${time} ${c.red('limit')} ${record.limit} limit exceeded: ${record.measured} ${record.unit ?? ''}`.trimEnd() +
        stack
      );
    case 'exception':
      return `${time} ${c.red('error')} ${String(record.msg ?? '')}${stack}`;
    default:
      if (record.level === 'warn' || record.level === 'error') {
        const { time: _t, level, msg, ...rest } = record;
        const extra = Object.keys(rest).length ? ' ' + c.dim(JSON.stringify(rest)) : '';
        return `${time} ${level === 'error' ? c.red('islet') : c.yellow('islet')} ${String(msg)}${extra}`;
      }
      return null;
  }
}

/** `1 module`, `3 modules` */
function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => '    ' + line.trim())
    .join('\n');
}

function devConfig(options: DevOptions, dataDir: string): Config {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ISLET_PORT: String(options.port ?? 8787),
    ISLET_HOST: '127.0.0.1',
    ISLET_ADMIN_PORT: '0',
    ISLET_ADMIN_HOST: '127.0.0.1',
    ISLET_DATA_DIR: dataDir,
    ISLET_WORKERS: '0',
    ISLET_METRICS_PORT: '0',
    ISLET_LOG_REQUESTS: 'true',
    ISLET_ADMIN_TOKEN: process.env.ISLET_ADMIN_TOKEN || randomBytes(24).toString('base64url'),
  };
  return loadConfig({ argv: options.configFile ? ['--config', options.configFile] : [], env });
}

/** Starts serving `options.dir`; resolves once the first build is served (or failed and was reported). */
export async function startDev(options: DevOptions): Promise<DevServer> {
  const dir = path.resolve(options.dir);
  if (!fs.existsSync(dir)) throw new CliError(`islet dev: ${options.dir} does not exist`, 'ISLET_CLI_NO_FOLDER');
  const print = options.print ?? ((line: string) => process.stderr.write(line + '\n'));
  const color = options.color ?? (options.print === undefined && process.stderr.isTTY === true);
  const c = paint(color);
  const tenant = options.tenant ?? tenantNameFor(dir);

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-dev-'));
  const config = devConfig(options, dataDir);
  const logger = new Logger(config.logLevel, (line) => {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return print(line);
    }
    const text = formatRecord(record, color);
    if (text !== null) print(text);
  });

  let serving: Serving;
  try {
    serving = await startServing({ config, logger });
  } catch (error) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new CliError(
        `islet dev: port ${config.port} is already in use: pick another with --port N (0 picks a free one)`,
        'ISLET_CLI_PORT_IN_USE',
      );
    }
    throw error;
  }
  const { store } = serving;
  if (options.env && Object.keys(options.env).length > 0) {
    await store.putTenant({ name: tenant, createdAt: new Date().toISOString(), active: null });
    await store.putEnv(tenant, { vars: options.env, secrets: {} });
  }
  const prepare = (manifest: Parameters<typeof prepareDeployment>[0], files: Map<string, Buffer>) =>
    prepareDeployment(manifest, files, {
      memoryMb: config.limits.memoryMb,
      startupTimeoutMs: config.pool.startupTimeoutMs,
    });
  // Any host name of this machine reaches the function, not only <tenant>.localhost.
  const routes = ['localhost/*', '127.0.0.1/*'];

  let served = '';
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
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return false;
  }

  async function buildOnce(): Promise<string> {
    const started = Date.now();
    try {
      const { manifest, stored } = await deployDirectory(store, tenant, dir, { routes, prepare, logger });
      if (!stored) {
        print(`${c.dim('no change in the build')} (${manifest.id})`);
        served = manifest.id;
        return served;
      }
      if (!(await servedFrom(manifest.id)))
        print(c.yellow(`${manifest.id} is stored and active but not served yet: the store watcher is late`));
      served = manifest.id;
      const warnings = manifest.warnings.length
        ? '\n' + manifest.warnings.map((w) => `  ${c.yellow('warning')} ${w}`).join('\n')
        : '';
      print(
        `${c.green('✓')} built and serving ${manifest.id} ` +
          `(${plural(manifest.modules.length, 'module')}, ${Date.now() - started} ms)${warnings}`,
      );
    } catch (error) {
      const e = error as Error & { code?: string };
      print(`${c.red('✗')} build failed${e.code ? ` [${e.code}]` : ''}: ${e.message}`);
      print(served ? c.dim(`  still serving ${served}`) : c.dim('  nothing to serve yet: fix the error and save'));
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

  let watcher: fs.FSWatcher | null = null;
  let debounce: NodeJS.Timeout | undefined;
  if (options.watch !== false) {
    const target = fs.statSync(dir).isFile() ? path.dirname(dir) : dir;
    watcher = fs.watch(target, { recursive: true }, (_event, file) => {
      if (file && IGNORED.test(String(file))) return;
      clearTimeout(debounce);
      debounce = setTimeout(() => {
        print(c.dim(`change in ${file ?? target}: rebuilding`));
        void reload();
      }, 100);
    });
    watcher.on('error', (error) => print(`${c.yellow('watch stopped')}: ${error.message}`));
  }

  const url = `http://localhost:${serving.tenantPort}/`;
  const adminUrl = `http://127.0.0.1:${serving.adminPort}/`;
  options.onListening?.({
    tenant,
    url,
    adminUrl,
    tenantPort: serving.tenantPort,
    operatorToken: serving.operatorToken,
  });
  await reload();
  let closing: Promise<void> | undefined;
  return {
    serving,
    tenant,
    url,
    adminUrl,
    get deployment() {
      return served;
    },
    reload,
    close: () =>
      (closing ??= (async () => {
        clearTimeout(debounce);
        watcher?.close();
        await building?.catch(() => {});
        await serving.close();
        fs.rmSync(dataDir, { recursive: true, force: true });
      })()),
  };
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
      case '--no-watch':
        options.watch = false;
        break;
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
