// System calls per request, per system: `node dist/bench/peers/syscalls.js [workload] [seconds]`.
// Attaches `strace -f -c` to each server (node:http, islet, workerd) while the load generator
// drives one workload, then divides the call counts by the requests served. strace slows the
// server a lot, so only the counts mean something here, never the throughput.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runLoad } from '../lib/loadgen';
import { sleep } from '../lib/proc';
import { isletSingle } from './systems/islet';
import { nodeHttp } from './systems/node';
import { workerd } from './systems/workerd';
import { startUpstream } from './upstream';
import { workloads } from './workloads';

const repoRoot = path.resolve(__dirname, '../../..');

/** strace -c's table: syscall name -> calls. */
function parseStraceSummary(text: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    // % time, seconds, usecs/call, calls, [errors], syscall
    if (f.length >= 5 && /^\d/.test(f[0]) && f[f.length - 1] !== 'total') calls.set(f[f.length - 1], Number(f[3]));
  }
  return calls;
}

async function main(): Promise<void> {
  const id = process.argv[2] ?? 'hello';
  const seconds = Number(process.argv[3] ?? 2);
  const workload = workloads.find((w) => w.id === id);
  if (!workload) throw new Error(`syscalls: unknown workload '${id}'`);
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-syscalls-'));
  const upstream = await startUpstream();
  try {
    const rows: Record<string, Record<string, number>> = {};
    for (const system of [nodeHttp, isletSingle, workerd]) {
      const running = await system.start({ repoRoot, tmpDir, upstreamUrl: upstream.url });
      const out = path.join(tmpDir, `${system.id}.strace`);
      try {
        const strace = spawn('strace', ['-f', '-c', '-o', out, '-p', String(running.process.pid)], { stdio: 'ignore' });
        const exited = new Promise((r) => strace.on('exit', r));
        strace.on('error', (err) => {
          console.error(`syscalls: cannot run strace (${err.message}); apt-get install strace`);
          process.exit(1);
        });
        await sleep(500);
        const load = await runLoad({
          url: running.baseUrl + workload.path(upstream.url),
          method: workload.method,
          headers: { ...running.headers, ...workload.headers },
          body: workload.body,
          connections: 8,
          warmupSeconds: 0,
          durationSeconds: seconds,
        });
        strace.kill('SIGINT');
        await exited;
        const calls = parseStraceSummary(fs.readFileSync(out, 'utf8'));
        rows[system.label] = Object.fromEntries(
          [...calls]
            .filter(([, n]) => n / load.ok >= 0.05)
            .map(([name, n]) => [name, Math.round((n / load.ok) * 100) / 100]),
        );
        console.log(`${system.label}: ${load.ok} requests`);
        for (const [name, per] of Object.entries(rows[system.label]).sort((a, b) => b[1] - a[1]))
          console.log(`  ${name.padEnd(16)} ${per.toFixed(2)} per request`);
      } finally {
        await running.stop();
      }
    }
    fs.mkdirSync(path.join(repoRoot, 'bench/results'), { recursive: true });
    fs.writeFileSync(
      path.join(repoRoot, `bench/results/syscalls-${id}.json`),
      JSON.stringify({ workload: id, perRequest: rows }, null, 2) + '\n',
    );
  } finally {
    upstream.close();
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
