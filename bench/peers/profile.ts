// Where islet's time goes under load: `node dist/bench/peers/profile.js [workload] [seconds] [islet|node]`
// runs `islet serve` (one process; or the bare node:http baseline, to compare) under
// `node --cpu-prof`, drives one workload with the same
// load generator as bench:peers, stops the server (the profile is written at exit) and prints
// the self time per function and per file. The .cpuprofile stays in bench/results/ for
// Chrome DevTools or speedscope; the summary goes to bench/results/islet-<workload>.profile.json.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { summarizeProfile } from '../lib/cpuprofile';
import { runLoad } from '../lib/loadgen';
import { waitForHttp } from '../lib/http';
import { freePort, sleep, startProcess } from '../lib/proc';
import { startWithWorkload } from './systems/islet';
import { startUpstream } from './upstream';
import { workloads } from './workloads';

const repoRoot = path.resolve(__dirname, '../../..');
const WARMUP_S = 2;

async function main(): Promise<void> {
  const id = process.argv[2] ?? 'hello';
  const seconds = Number(process.argv[3] ?? 10);
  const target = process.argv[4] ?? 'islet';
  if (target !== 'islet' && target !== 'node')
    throw new Error(`profile: target must be islet or node, not '${target}'`);
  const workload = workloads.find((w) => w.id === id);
  if (!workload) throw new Error(`profile: unknown workload '${id}' (known: ${workloads.map((w) => w.id).join(', ')})`);
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-profile-'));
  const profDir = path.join(tmpDir, 'prof');
  const cleanup: (() => void)[] = [];
  try {
    const upstream = await startUpstream();
    cleanup.push(() => upstream.close());
    const profArgs = ['--cpu-prof', `--cpu-prof-dir=${profDir}`];
    const ctx = { repoRoot, tmpDir, upstreamUrl: upstream.url };
    const running =
      target === 'islet'
        ? await startWithWorkload(ctx, 'islet-profile', { nodeArgs: profArgs })
        : await startNode(profArgs);
    const result = await runLoad({
      url: running.baseUrl + workload.path(upstream.url),
      method: workload.method,
      headers: { ...running.headers, ...workload.headers },
      body: workload.body,
      connections: 32,
      warmupSeconds: WARMUP_S,
      durationSeconds: seconds,
    });
    await running.stop();
    for (let i = 0; i < 50 && !(fs.existsSync(profDir) && fs.readdirSync(profDir).length); i++) await sleep(100);
    const files = fs.existsSync(profDir) ? fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')) : [];
    if (files.length === 0) throw new Error('islet serve wrote no .cpuprofile (did it exit cleanly on SIGTERM?)');
    const outDir = path.join(repoRoot, 'bench/results');
    fs.mkdirSync(outDir, { recursive: true });
    const kept = path.join(outDir, `${target}-${id}.cpuprofile`);
    fs.copyFileSync(path.join(profDir, files[0]), kept);
    const summary = summarizeProfile(kept, repoRoot);
    // Requests over warm-up + measured phase (the warm-up ran at about the same rate): the
    // divisor for per-request times. The profile also holds startup, so these are upper bounds,
    // and sampled time includes moments the thread waited for a core on a busy machine.
    const requests = result.requestsPerSecond * (WARMUP_S + result.durationSeconds);
    const idle = summary.files.find((e) => e.name === '(idle)')?.selfMs ?? 0;
    const us = (ms: number): string => `${((ms * 1000) / requests).toFixed(1).padStart(6)} µs/req`;
    fs.writeFileSync(
      path.join(outDir, `${target}-${id}.profile.json`),
      JSON.stringify(
        {
          target,
          workload: id,
          load: result,
          requestsApprox: Math.round(requests),
          busyUsPerRequest: ((summary.totalMs - idle) * 1000) / requests,
          ...summary,
        },
        null,
        2,
      ) + '\n',
    );
    console.log(
      `${id}: ${Math.round(result.requestsPerSecond)} req/s, p99 ${result.latencyMs.p99.toFixed(2)} ms under the profiler; ${summary.totalMs.toFixed(0)} ms sampled`,
    );
    console.log(`main thread busy: ${us(summary.totalMs - idle)} over ~${Math.round(requests)} requests`);
    console.log('\nself time by file:');
    for (const e of summary.files)
      console.log(`  ${(e.share * 100).toFixed(1).padStart(5)}% ${us(e.selfMs)}  ${e.name}`);
    console.log('\nself time by function:');
    for (const e of summary.functions)
      console.log(`  ${(e.share * 100).toFixed(1).padStart(5)}% ${us(e.selfMs)}  ${e.name}`);
    console.log(`\nprofile: ${path.relative(repoRoot, kept)}`);
  } finally {
    for (const c of cleanup) c();
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}

/** The node:http baseline with extra node flags (the profiler), as bench:peers runs it. */
async function startNode(
  nodeArgs: string[],
): Promise<{ baseUrl: string; headers: Record<string, string>; stop(): Promise<void> }> {
  const port = await freePort();
  const proc = startProcess(
    'node-profile',
    process.execPath,
    [...nodeArgs, path.join(__dirname, 'node-server.js'), String(port)],
    { cwd: repoRoot },
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitForHttp(`${baseUrl}/hello`, { isAlive: proc.alive });
  return { baseUrl, headers: {}, stop: () => proc.stop() };
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
