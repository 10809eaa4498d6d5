// Servers under test as child processes: start one in its own process group (so a supervisor
// and its workers are measured and stopped together), read the resident memory of the whole
// group from /proc, stop it, and find free loopback ports.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

export interface ServerProcess {
  readonly pid: number;
  readonly name: string;
  alive(): boolean;
  /** The last lines the process wrote to stdout/stderr, for error messages. */
  output(): string;
  /** Resident set size of every process in the group (or only those running `exe`), bytes;
   *  shared pages are counted once per process. */
  rssBytes(exe?: string): number;
  stop(): Promise<void>;
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string /** inherited as fds 3, 4, ... */; extraFds?: number[] } = {},
): ServerProcess {
  const child: ChildProcess = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe', ...(opts.extraFds ?? [])],
    detached: true,
  });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const exitPromise = new Promise<void>((resolve) =>
    child.on('exit', () => {
      exited = true;
      resolve();
    }),
  );
  child.on('error', (err) => {
    tail += `\n[spawn error] ${err.message}`;
    exited = true;
  });
  const pid = child.pid ?? -1;
  return {
    pid,
    name,
    alive: () => !exited,
    output: () => tail,
    rssBytes: (exe?: string) => groupRssBytes(pid, exe),
    async stop() {
      if (exited) return;
      signalGroup(pid, 'SIGTERM');
      const killed = await Promise.race([exitPromise.then(() => true), sleep(5000).then(() => false)]);
      if (!killed) {
        signalGroup(pid, 'SIGKILL');
        await exitPromise;
      }
      // Workers of a supervisor may outlive it by a moment; give the group a chance to go.
      for (let i = 0; i < 50 && groupPids(pid).length > 0; i++) await sleep(20);
      if (groupPids(pid).length > 0) signalGroup(pid, 'SIGKILL');
    },
  };
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is already gone
  }
}

/** Pids whose process group is `pgid` (the group leader started with detached: true). */
export function groupPids(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the parenthesised command name: state ppid pgrp ...
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid && rest[0] !== 'Z') pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

export function groupRssBytes(pgid: number, exe?: string): number {
  let total = 0;
  for (const pid of exe ? groupPidsRunning(pgid, exe) : groupPids(pgid)) {
    try {
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      const m = /VmRSS:\s+(\d+) kB/.exec(status);
      if (m) total += Number(m[1]) * 1024;
    } catch {
      // gone
    }
  }
  return total;
}

/** A port that was free a moment ago on 127.0.0.1 (the OS picks it; a race is possible but rare). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** `count` distinct free ports: all are held open together before any is released, since the
 *  OS hands a just-released port out again. */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const srv = net.createServer();
      servers.push(srv);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          srv.on('error', reject);
          srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port));
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))));
  }
}

/** Several processes seen as one server: alive while all are, memory summed, stopped together. */
export function processSet(name: string, members: ServerProcess[]): ServerProcess {
  return {
    pid: members[0].pid,
    name,
    alive: () => members.every((m) => m.alive()),
    output: () => members.map((m) => m.output()).join('\n'),
    rssBytes: (exe?: string) => members.reduce((n, m) => n + m.rssBytes(exe), 0),
    stop: async () => {
      await Promise.all(members.map((m) => m.stop()));
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Pids of the group running the executable `exe` (e.g. the node processes of a supervisor,
 *  leaving out helpers such as esbuild's service process). */
export function groupPidsRunning(pgid: number, exe: string): number[] {
  const want = fs.realpathSync(exe);
  return groupPids(pgid).filter((pid) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/exe`) === want;
    } catch {
      return false;
    }
  });
}
