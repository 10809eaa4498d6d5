// `npm run bench:peers [-- --quick] [--systems a,b] [--workloads a,b] [--skip cold,memory,throughput]
//   [--contention [--hog-threads N]]`
// islet beside workerd and bare node:http on this machine, in one run with one load generator.
// Writes bench/results/peers.json (everything measured, with machine info) and regenerates
// BENCHMARKS.md and bench/charts/*.svg from it (bench/peers/report.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { machineInfo } from '../lib/machine';
import { runColdStart } from './coldstart';
import { runContention } from './contention';
import { defaultHogThreads } from './hog';
import { runMemory } from './memory';
import { writeReport } from './report';
import type { PeerResults, RunSettings, SystemInfo } from './results';
import type { SystemContext, SystemUnderTest } from './system';
import { isletSingle, isletWorkers } from './systems/islet';
import { nodeHttp } from './systems/node';
import { workerd, workerdPackage, workerdProcesses } from './systems/workerd';
import { runThroughput } from './throughput';
import { startUpstream } from './upstream';
import { workloads as allWorkloads } from './workloads';

const repoRoot = path.resolve(__dirname, '../../..');
const defaultOut = path.join(repoRoot, 'bench/results/peers.json');

interface Args {
  quick: boolean;
  systems?: string[];
  workloads?: string[];
  skip: Set<string>;
  out: string;
  /** hello world again with a CPU hog beside every system (bench/peers/contention.ts) */
  contention: boolean;
  hogThreads: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, skip: new Set(), out: defaultOut, contention: false, hogThreads: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench:peers: ${a} needs a value`);
      return v;
    };
    if (a === '--quick') args.quick = true;
    else if (a === '--systems') args.systems = value().split(',');
    else if (a === '--workloads') args.workloads = value().split(',');
    else if (a === '--skip') for (const s of value().split(',')) args.skip.add(s);
    else if (a === '--out') args.out = path.resolve(value());
    else if (a === '--contention') args.contention = true;
    else if (a === '--hog-threads') {
      const raw = value();
      args.hogThreads = Number(raw);
      if (!/^\d+$/.test(raw) || args.hogThreads < 1 || args.hogThreads > 256)
        throw new Error(`bench:peers: --hog-threads takes a whole number from 1 to 256 (got '${raw}')`);
    } else if (a === '--help' || a === '-h') {
      console.log(
        'usage: npm run bench:peers -- [--quick] [--systems node,workerd,workerd-p2,islet,islet-w2] ' +
          '[--workloads hello,echo,cpu,stream,fetch]\n' +
          '                            [--skip throughput,cold,memory] [--out results.json]\n' +
          '                            [--contention [--hog-threads N]]  (hello world again beside a CPU hog of N\n' +
          '                            spinning processes, default half the cores)',
      );
      process.exit(0);
    } else throw new Error(`bench:peers: unknown argument '${a}' (see --help)`);
  }
  if (args.hogThreads && !args.contention) throw new Error('bench:peers: --hog-threads goes with --contention');
  args.hogThreads ||= defaultHogThreads();
  return args;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const cores = os.cpus().length;
  const settings: RunSettings = args.quick
    ? {
        mode: 'quick',
        rounds: 1,
        systemWarmupSeconds: 3,
        warmupSeconds: 1,
        durationSeconds: 2,
        connections: 32,
        loadGenerator: '',
        coldSamples: 5,
        memoryTenants: 100,
      }
    : {
        mode: 'full',
        rounds: 5,
        systemWarmupSeconds: 5,
        warmupSeconds: 1,
        durationSeconds: 2,
        connections: 32,
        loadGenerator: '',
        coldSamples: 15,
        memoryTenants: 1000,
      };
  settings.loadGenerator =
    `autocannon ` +
    `${(require('autocannon/package.json') as { version: string }).version}, ${settings.connections} ` +
    `connections, in its own process`;

  let systems: SystemUnderTest[] = [nodeHttp, workerd, workerdProcesses(cores), isletSingle, isletWorkers(cores)];
  if (args.systems) {
    const known = new Set(systems.map((s) => s.id));
    for (const id of args.systems)
      if (!known.has(id)) throw new Error(`bench:peers: unknown system '${id}' (known: ${[...known].join(', ')})`);
    systems = systems.filter((s) => args.systems!.includes(s.id));
  }
  let workloads = allWorkloads;
  if (args.workloads) {
    for (const id of args.workloads)
      if (!workloads.some((w) => w.id === id)) throw new Error(`bench:peers: unknown workload '${id}'`);
    workloads = workloads.filter((w) => args.workloads!.includes(w.id));
  }

  const infos = new Map<string, SystemInfo>(
    systems.map((s) => [s.id, { id: s.id, label: s.label, describe: s.describe }]),
  );
  for (const wd of [...infos.values()].filter((s) => s.id.startsWith('workerd'))) {
    try {
      wd.version = workerdPackage().version;
    } catch (err) {
      wd.unavailable = (err as Error).message;
    }
  }
  // scripts/reference-isolate.js swaps native/ for the reference isolate library: numbers from
  // such a run are not islet's own and must say so.
  const onReference = (process.env.NODE_OPTIONS ?? '').includes('reference-isolate');
  for (const info of infos.values()) {
    if (info.id.startsWith('islet') && onReference)
      info.note =
        'isolates from the reference library (isolated-vm) through scripts/reference-isolate.js, ' +
        "not islet's native/ addon";
  }
  const nodeInfo = infos.get('node');
  if (nodeInfo) nodeInfo.version = process.version;

  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-bench-peers-'));
  const upstream = await startUpstream();
  const ctx: SystemContext = { repoRoot, tmpDir, upstreamUrl: upstream.url };
  const log = (line: string) => console.log(line);
  log(
    `bench:peers (${settings.mode}): ${systems.map((s) => s.label).join(', ')}; ${settings.rounds} round(s) x ` +
      `${workloads.length} workloads, ${settings.warmupSeconds}s warm-up + ${settings.durationSeconds}s each`,
  );

  try {
    const results: PeerResults = {
      machine: machineInfo(repoRoot),
      settings,
      systems: [],
      workloads: workloads.map((w) => ({ id: w.id, label: w.label, describe: w.describe })),
      throughput: { raw: {}, median: {} },
      coldStart: [],
      memory: [],
      elapsedSeconds: 0,
    };
    if (!args.skip.has('throughput')) {
      log('throughput:');
      results.throughput = await runThroughput(ctx, systems, workloads, settings, infos, log);
    }
    if (args.contention) {
      log('contention:');
      results.contention = await runContention(ctx, systems, allWorkloads, settings, infos, args.hogThreads, log);
    }
    if (!args.skip.has('cold')) {
      log('cold start:');
      results.coldStart = await runColdStart(ctx, settings.coldSamples, log);
    }
    if (!args.skip.has('memory')) {
      log('memory:');
      results.memory = await runMemory(ctx, settings.memoryTenants, log);
    }
    results.systems = [...infos.values()];
    results.elapsedSeconds = Math.round((Date.now() - started) / 1000);
    fs.mkdirSync(path.dirname(args.out), { recursive: true });
    fs.writeFileSync(args.out, JSON.stringify(results, null, 2) + '\n');
    log(`results: ${path.relative(repoRoot, args.out)}`);
    if (args.out === defaultOut)
      for (const file of writeReport(results, repoRoot)) log(`wrote ${path.relative(repoRoot, file)}`);
    else
      log(
        `BENCHMARKS.md left as it is (results went to --out); render them with: node ` +
          `dist/bench/peers/report.js ${args.out}`,
      );
    log(`done in ${results.elapsedSeconds} s`);
  } finally {
    upstream.close();
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
