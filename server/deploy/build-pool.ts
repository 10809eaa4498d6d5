// Where uploads are built: child processes (build-child.ts) the serving process can bound and
// kill. A tenant controls what esbuild is asked to compile, so a build must not be able to take
// the server down with it: a million nested brackets overflow esbuild's stack and kill its
// service (in-process, every later build of every tenant failed until a restart); a long import
// chain builds for tens of seconds; a large upload takes hundreds of MB. Here each build runs in
// a child process under
//   - a wall-time limit (deploy.buildTimeoutMs): past it the child's process group is killed;
//   - a memory limit (deploy.buildMemoryMb): RLIMIT_DATA set by /bin/sh's `ulimit -d` before
//     Node starts, so Node and the esbuild service it spawns (a Go program, which RLIMIT_AS
//     would stop from starting at all: it reserves address space it never touches) each stay
//     under it, plus V8's own heap limit;
//   - a lower CPU priority than serving.
// A child that crashed or was killed is replaced by a fresh one for the next build; the build
// that did it gets 422 BUILD_LIMIT_EXCEEDED and no other build notices. Idle children are kept
// for reuse (a start costs ~100 ms) and stopped after a minute.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../observe/server-log';
import { DeployError } from '../errors';
import type { Build, BuildOptions } from './build';
import type { BuildReply, BuildRequest } from './build-child';

/** Builds one upload: in this process (build.ts) or in a child (BuildPool.build). */
export type Builder = (tenant: string, files: Map<string, Buffer>, options: BuildOptions) => Promise<Build>;

export interface BuildPoolOptions {
  timeoutMs: number;
  memoryMb: number;
  logger?: Logger;
  /** an idle child is stopped after this long (default 60 s) */
  idleMs?: number;
}

interface Worker {
  child: ChildProcess;
  /** the last bytes the child wrote to stderr (esbuild's crash report, V8's out-of-memory message) */
  stderr: string;
  idleTimer?: NodeJS.Timeout;
  exited: boolean;
}

const childScript = path.join(__dirname, 'build-child.js');
const shell = '/bin/sh';
const stderrTail = 2048;

export class BuildPool {
  readonly #options: BuildPoolOptions;
  readonly #idle: Worker[] = [];
  readonly #busy = new Set<Worker>();
  #nextId = 0;
  #closed = false;

  constructor(options: BuildPoolOptions) {
    this.#options = options;
  }

  /** builds `files` in a child process; throws DeployError (400/413/422) like build() does */
  readonly build: Builder = async (tenant, files, options) => {
    if (this.#closed) throw new Error('the build pool is closed');
    const worker = this.#idle.pop() ?? this.#spawn();
    clearTimeout(worker.idleTimer);
    this.#busy.add(worker);
    let keep = false;
    try {
      const reply = await this.#run(worker, { id: ++this.#nextId, tenant, files, options });
      if (reply.ok) {
        keep = true;
        return { manifest: reply.manifest, files: reply.files, inputs: reply.inputs };
      }
      if (!reply.deploy) throw new Error(`the build process failed: ${reply.message}`);
      // a crashed esbuild service leaves a child best replaced; any other refusal keeps it
      keep = reply.code !== 'ISLET_DEPLOY_BUILD_LIMIT';
      throw new DeployError(reply.code as ConstructorParameters<typeof DeployError>[0], reply.message);
    } finally {
      this.#busy.delete(worker);
      if (keep && !worker.exited && !this.#closed) this.#park(worker);
      else this.#kill(worker);
    }
  };

  /** stops every child (the server is shutting down) */
  close(): void {
    this.#closed = true;
    for (const worker of [...this.#idle, ...this.#busy]) this.#kill(worker);
    this.#idle.length = 0;
  }

  #spawn(): Worker {
    const { memoryMb } = this.#options;
    const node = [process.execPath, '--no-node-snapshot', `--max-old-space-size=${memoryMb}`, childScript];
    // `ulimit -d` bounds each process of the build (Node here, esbuild's service it starts); a
    // system without /bin/sh still builds in a child, bounded by V8's heap limit and the timeout
    const withLimit = fs.existsSync(shell);
    const child = withLimit
      ? spawn(shell, ['-c', `ulimit -d ${memoryMb * 1024} && exec "$0" "$@"`, ...node], {
          stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
          serialization: 'advanced',
          detached: true,
        })
      : spawn(node[0]!, node.slice(1), {
          stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
          serialization: 'advanced',
          detached: true,
        });
    const worker: Worker = { child, stderr: '', exited: false };
    // drained always (an undrained pipe would stall the child); only the tail is kept
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      worker.stderr = (worker.stderr + chunk).slice(-stderrTail);
    });
    child.once('exit', () => {
      worker.exited = true;
      const at = this.#idle.indexOf(worker);
      if (at !== -1) this.#idle.splice(at, 1);
    });
    child.on('error', () => {
      worker.exited = true;
    });
    // an idle child must not keep the server's event loop alive
    child.unref();
    (child as unknown as { channel?: { unref(): void } }).channel?.unref();
    return worker;
  }

  #run(worker: Worker, request: BuildRequest): Promise<BuildReply> {
    const { timeoutMs, memoryMb } = this.#options;
    const { child } = worker;
    return new Promise<BuildReply>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      const onMessage = (reply: BuildReply) => {
        if (reply.id !== request.id) return;
        done();
        resolve(reply);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        done();
        this.#options.logger?.warn('build process died', {
          tenant: request.tenant,
          code,
          signal,
          stderr: worker.stderr.slice(-512),
        });
        reject(
          new DeployError(
            'ISLET_DEPLOY_BUILD_LIMIT',
            `the build ran out of memory (limit ${memoryMb} MB) or crashed compiling the upload: ` +
              'simplify or split the code',
          ),
        );
      };
      const timer = setTimeout(() => {
        done();
        this.#kill(worker);
        reject(
          new DeployError(
            'ISLET_DEPLOY_BUILD_LIMIT',
            `the build did not finish within ${timeoutMs} ms (the build time limit): ` +
              'fewer modules or bundle=true build faster',
          ),
        );
      }, timeoutMs);
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.ref();
      try {
        child.send(request, (error) => {
          if (error) onExit(null, null);
        });
      } catch {
        onExit(null, null);
      }
    }).finally(() => child.unref());
  }

  #park(worker: Worker): void {
    this.#idle.push(worker);
    worker.idleTimer = setTimeout(() => {
      const at = this.#idle.indexOf(worker);
      if (at !== -1) this.#idle.splice(at, 1);
      this.#kill(worker);
    }, this.#options.idleMs ?? 60_000);
    worker.idleTimer.unref();
  }

  #kill(worker: Worker): void {
    clearTimeout(worker.idleTimer);
    if (worker.exited || worker.child.pid === undefined) return;
    try {
      // the whole group: the child and the esbuild service it started
      process.kill(-worker.child.pid, 'SIGKILL');
    } catch {
      worker.child.kill('SIGKILL');
    }
  }
}
