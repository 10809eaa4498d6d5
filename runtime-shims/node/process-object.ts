// The `process` object of node:process (and of the global `process` with nodejs_compat): what a
// Workers-style runtime can truthfully offer. `env` holds the tenant's vars and secrets (the
// string values of its env, as Workers fills it); `nextTick` queues a microtask in the caller's
// async context; the clock is the shims' coarse one. Nothing here reaches the host.
import EventEmitter from 'events';
import { internals } from 'islet:internal';

const { env: tenantEnv, asyncContext, reportError } = internals();

function notAvailable(what: string): never {
  throw new Error(`process.${what}() is not available in islet`);
}

const env: Record<string, string> = {};
for (const key of Object.keys(tenantEnv)) {
  const value = tenantEnv[key];
  if (typeof value === 'string') env[key] = value;
}

const origin = Date.now();

function nextTick(callback: (...args: unknown[]) => void, ...args: unknown[]): void {
  if (typeof callback !== 'function') throw new TypeError('The "callback" argument must be of type function');
  const context = asyncContext.get();
  queueMicrotask(() => {
    const previous = asyncContext.get();
    asyncContext.set(context);
    try {
      callback(...args);
    } catch (error) {
      reportError(error);
    } finally {
      asyncContext.set(previous);
    }
  });
}

function hrtime(previous?: [number, number]): [number, number] {
  const ms = performance.now();
  let seconds = Math.floor(ms / 1000);
  let nanos = Math.round((ms % 1000) * 1e6);
  if (previous) {
    seconds -= previous[0];
    nanos -= previous[1];
    if (nanos < 0) {
      seconds -= 1;
      nanos += 1e9;
    }
  }
  return [seconds, nanos];
}
hrtime.bigint = (): bigint => BigInt(Math.round(performance.now() * 1e6));

const stream = (level: 'log' | 'error') => ({
  write(chunk: unknown): boolean {
    const text = typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk as Uint8Array);
    console[level](text.endsWith('\n') ? text.slice(0, -1) : text);
    return true;
  },
  isTTY: false,
});

class Process extends EventEmitter {
  get [Symbol.toStringTag]() {
    return 'process';
  }
}

/** the process object; islet reports itself as Workers does (a Node 22-compatible API surface) */
export const process = Object.assign(new Process(), {
  env,
  argv: ['node'],
  argv0: 'node',
  execArgv: [] as string[],
  execPath: '/bin/node',
  version: 'v22.14.0',
  versions: { node: '22.14.0' } as Record<string, string>,
  release: { name: 'node' },
  platform: 'linux',
  arch: 'x64',
  title: 'islet',
  pid: 1,
  ppid: 0,
  exitCode: undefined as number | undefined,
  features: { inspector: false, ipv6: true, tls: false, typescript: false },
  nextTick,
  hrtime,
  cwd: () => '/',
  chdir: () => notAvailable('chdir'),
  umask: () => 0o22,
  uptime: () => (Date.now() - origin) / 1000,
  memoryUsage: Object.assign(() => ({ rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 }), {
    rss: () => 0,
  }),
  cpuUsage: () => ({ user: 0, system: 0 }),
  resourceUsage: () => notAvailable('resourceUsage'),
  exit: () => notAvailable('exit'),
  abort: () => notAvailable('abort'),
  kill: () => notAvailable('kill'),
  emitWarning(warning: unknown) {
    console.warn(typeof warning === 'string' ? `Warning: ${warning}` : warning);
  },
  getBuiltinModule: () => undefined,
  stdout: stream('log'),
  stderr: stream('error'),
  noDeprecation: false,
  throwDeprecation: false,
  traceDeprecation: false,
});
