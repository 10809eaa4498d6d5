// Where islet's time goes under load: `node dist/bench/peers/profile.js [workload] [seconds]`
// runs `islet serve` (one process) under `node --cpu-prof`, drives one workload with the same
// load generator as bench:peers, stops the server (the profile is written at exit) and prints
// the self time per function and per file. The .cpuprofile stays in bench/results/ for
// Chrome DevTools or speedscope; the summary goes to bench/results/islet-<workload>.profile.json.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { summarizeProfile } from '../lib/cpuprofile';
import { runLoad } from '../lib/loadgen';
import { sleep } from '../lib/proc';
import { startWithWorkload } from './systems/islet';
import { workloads } from './workloads';

const repoRoot = path.resolve(__dirname, '../../..');

async function main(): Promise<void> {
  const id = process.argv[2] ?? 'hello';
  const seconds = Number(process.argv[3] ?? 10);
  const workload = workloads.find((w) => w.id === id);
  if (!workload) throw new Error(`profile: unknown workload '${id}' (known: ${workloads.map((w) => w.id).join(', ')})`);
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-profile-'));
  const profDir = path.join(tmpDir, 'prof');
  try {
    const running = await startWithWorkload({ repoRoot, tmpDir, upstreamUrl: 'http://127.0.0.1:9/' }, 'islet-profile', {
      nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    });
    const result = await runLoad({
      url: running.baseUrl + workload.path('http://127.0.0.1:9/'),
      method: workload.method,
      headers: { ...running.headers, ...workload.headers },
      body: workload.body,
      connections: 32,
      warmupSeconds: 2,
      durationSeconds: seconds,
    });
    await running.stop();
    for (let i = 0; i < 50 && !(fs.existsSync(profDir) && fs.readdirSync(profDir).length); i++) await sleep(100);
    const files = fs.existsSync(profDir) ? fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')) : [];
    if (files.length === 0) throw new Error('islet serve wrote no .cpuprofile (did it exit cleanly on SIGTERM?)');
    const outDir = path.join(repoRoot, 'bench/results');
    fs.mkdirSync(outDir, { recursive: true });
    const kept = path.join(outDir, `islet-${id}.cpuprofile`);
    fs.copyFileSync(path.join(profDir, files[0]), kept);
    const summary = summarizeProfile(kept, repoRoot);
    fs.writeFileSync(path.join(outDir, `islet-${id}.profile.json`), JSON.stringify({ workload: id, load: result, ...summary }, null, 2) + '\n');
    console.log(`${id}: ${Math.round(result.requestsPerSecond)} req/s, p99 ${result.latencyMs.p99.toFixed(2)} ms under the profiler; ${summary.totalMs.toFixed(0)} ms sampled`);
    console.log('\nself time by file:');
    for (const e of summary.files) console.log(`  ${(e.share * 100).toFixed(1).padStart(5)}%  ${e.name}`);
    console.log('\nself time by function:');
    for (const e of summary.functions) console.log(`  ${(e.share * 100).toFixed(1).padStart(5)}%  ${e.name}`);
    console.log(`\nprofile: ${path.relative(repoRoot, kept)}`);
  } finally {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
