// `islet serve` as a process: --functions publishing, graceful SIGTERM (in-flight requests finish,
// exit 0), and ISLET_WORKERS: a worker that dies is replaced while the others keep serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { repoRoot, fixtures, eventually } from './serve-harness';

interface Started {
  child: ChildProcess;
  port: number;
  output: () => string;
  exit: Promise<number | null>;
}

async function startIslet(env: Record<string, string>): Promise<Started> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-cli-'));
  fs.mkdirSync(path.join(dir, 'functions', 'slow'), { recursive: true });
  fs.copyFileSync(path.join(fixtures, 'slow.js'), path.join(dir, 'functions', 'slow', 'index.js'));
  const child = spawn(
    process.execPath,
    ['--no-node-snapshot', path.join(repoRoot, 'bin', 'islet.js'), 'serve', '--functions', path.join(dir, 'functions')],
    {
      env: {
        ...process.env,
        ISLET_PORT: '0',
        ISLET_HOST: '127.0.0.1',
        ISLET_ADMIN_PORT: '0',
        ISLET_DATA_DIR: path.join(dir, 'data'),
        ISLET_LOG_LEVEL: 'warn',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = await eventually(() => {
    const m = /tenant traffic on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
    if (child.exitCode !== null) throw new Error(`islet exited early:\n${out}`);
    return m ? Number(m[1]) : 0;
  }, 30_000);
  return { child, port, output: () => out, exit };
}

const get = async (port: number, p = '/') => {
  // bounded: a connection node:cluster was handing to a worker as it was killed may never be answered
  const res = await request(`http://127.0.0.1:${port}${p}`, {
    headers: { host: 'slow.localhost' },
    headersTimeout: 5000,
    bodyTimeout: 5000,
  });
  return { status: res.statusCode, text: await res.body.text() };
};

test('SIGTERM (one process): in-flight requests finish, new connections are refused, the process exits 0', async () => {
  const islet = await startIslet({ ISLET_WORKERS: '0' });
  try {
    assert.equal((await get(islet.port)).status, 200);
    const inFlight = get(islet.port, '/?ms=600');
    await new Promise((r) => setTimeout(r, 150));
    islet.child.kill('SIGTERM');
    const finished = await inFlight;
    assert.equal(finished.status, 200);
    assert.match(finished.text, /^VERSION /);
    assert.equal(await islet.exit, 0, islet.output());
    await assert.rejects(get(islet.port), /ECONNREFUSED/);
  } finally {
    islet.child.kill('SIGKILL');
  }
});

/** worker processes of the supervisor `pid` (its other children, such as esbuild's service, left out) */
function children(pid: number): number[] {
  try {
    const pids = fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    return pids.filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('islet.js');
      } catch {
        return false;
      }
    });
  } catch {
    return [];
  }
}

test('ISLET_WORKERS=2: a killed worker is replaced and serving goes on; SIGTERM stops them all', async () => {
  const islet = await startIslet({ ISLET_WORKERS: '2' });
  try {
    await eventually(() => children(islet.child.pid!).length === 2, 10_000);
    assert.equal((await get(islet.port)).status, 200);
    const [victim] = children(islet.child.pid!);
    process.kill(victim!, 'SIGKILL');
    // the surviving worker answers; a request that happened to be on the victim's connection is retried
    await eventually(async () => (await get(islet.port).catch(() => ({ status: 0 }))).status === 200, 10_000);
    await eventually(() => {
      const now = children(islet.child.pid!);
      return now.length === 2 && !now.includes(victim!);
    }, 15_000);
    for (let i = 0; i < 5; i++) assert.equal((await get(islet.port)).status, 200);
    islet.child.kill('SIGTERM');
    assert.equal(await islet.exit, 0, islet.output());
  } finally {
    islet.child.kill('SIGKILL');
  }
});
