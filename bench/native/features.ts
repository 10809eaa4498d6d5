// bench/native, islet's features: what a running CPU profile costs a hot loop, and what a
// startup snapshot of a ~200 KB bootstrap saves on cold start and on memory per idle isolate.
// Every ratio compares two variants measured in this run, alternating rounds so both see the
// same machine load. Run by main.ts (`npm run bench -- native`), or alone:
//   node --no-node-snapshot --expose-gc dist/bench/native/features.js [--rounds N]
// The bootstrap is islet's own shim bundle (dist/runtime-shims/bootstrap.js, made by
// `npm run build`), or a bundle of polyfills from node_modules when that is missing.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import ivm = require('../../native');
import { median } from '../lib/stats';

export type FeatureRow = { name: string; unit: string; value: number; note?: string };

const root = path.resolve(__dirname, '../../..');

/** The bootstrap, as a script whose completion value stays reachable (kept by the snapshot). */
export function bootstrapSource(): { code: string; from: string } {
  const shims = path.join(root, 'dist', 'runtime-shims', 'bootstrap.js');
  if (fs.existsSync(shims))
    return {
      code: `globalThis.__bootstrap = ${fs.readFileSync(shims, 'utf8')}`,
      from: 'dist/runtime-shims/bootstrap.js',
    };
  const parts = ['web-streams-polyfill/dist/ponyfill.js', 'urlpattern-polyfill/dist/index.cjs'].map((name) =>
    require.resolve(name),
  );
  const code = parts.map(
    (file) =>
      `(function () { var module = { exports: {} }, exports = module.exports;\n` +
      `${fs.readFileSync(file, 'utf8')}\n;return module.exports; })();`,
  );
  return { code: `globalThis.__bootstrap = [${code.join(',\n')}];`, from: 'polyfills from node_modules' };
}

const elapsedMs = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

/** ms per hot-loop run with no profile, and with one running at each sampling interval. */
async function profileOverhead(rounds: number): Promise<FeatureRow[]> {
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  const context = isolate.createContextSync();
  context.evalSync(`
    function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
    function work() { let sum = 0; for (let i = 0; i < 200; i++) sum += fib(20) + Math.sqrt(i); return sum; }`);
  // The isolate's CPU clock (the work charged to the tenant) and the wall clock (which also
  // shows the sampler thread competing for a core on a loaded machine).
  const run = (): [number, number] => {
    const cpu = isolate.cpuTime;
    const wall = process.hrtime.bigint();
    context.evalSync('work()');
    return [Number(isolate.cpuTime - cpu) / 1e6, elapsedMs(wall)];
  };
  for (let i = 0; i < 20; i++) run(); // warm up: optimised code, as a busy tenant has
  const variants: { name: string; interval?: number; cpu: number[]; wall: number[] }[] = [
    { name: 'no profile', cpu: [], wall: [] },
    { name: 'profile, 1000 µs interval', interval: 1000, cpu: [], wall: [] },
    { name: 'profile, 100 µs interval', interval: 100, cpu: [], wall: [] },
  ];
  for (let round = 0; round < rounds * 10; round++) {
    for (const variant of variants) {
      if (variant.interval) isolate.startCpuProfiler('bench', { samplingInterval: variant.interval });
      const [cpu, wall] = run();
      variant.cpu.push(cpu);
      variant.wall.push(wall);
      if (variant.interval) await isolate.stopCpuProfiler('bench');
    }
  }
  const base = variants[0];
  const rows: FeatureRow[] = [{ name: 'hot loop CPU time, no profile', unit: 'ms', value: median(base.cpu) }];
  for (const variant of variants.slice(1)) {
    rows.push({ name: `hot loop CPU time, ${variant.name}`, unit: 'ms', value: median(variant.cpu) });
    rows.push({
      name: `profile cost, ${variant.name}`,
      unit: 'x',
      value: median(variant.cpu) / median(base.cpu),
      note: 'isolate CPU with / without',
    });
    rows.push({
      name: `profile cost (wall), ${variant.name}`,
      unit: 'x',
      value: median(variant.wall) / median(base.wall),
      note: 'wall with / without',
    });
  }
  isolate.dispose();
  return rows;
}

/** Cold start: a new isolate and context ready to serve, each way, alternating. */
function coldStart(rounds: number, code: string): FeatureRow[] {
  const snapshot = ivm.Isolate.createSnapshot([{ code, filename: 'file:///bootstrap.js' }]);
  let cache: ivm.ExternalCopy<ArrayBuffer>;
  {
    const isolate = new ivm.Isolate({ memoryLimit: 64 });
    const script = isolate.compileScriptSync(code, { filename: 'file:///bootstrap.js' });
    script.runSync(isolate.createContextSync());
    cache = isolate.compileScriptSync(code, { filename: 'file:///bootstrap.js', produceCachedData: true }).cachedData!;
    isolate.dispose();
  }
  const ways: Record<string, () => ivm.Isolate> = {
    'eval the bootstrap': () => {
      const isolate = new ivm.Isolate({ memoryLimit: 64 });
      isolate.createContextSync().evalSync(code, { filename: 'file:///bootstrap.js' });
      return isolate;
    },
    'bootstrap from code cache': () => {
      const isolate = new ivm.Isolate({ memoryLimit: 64 });
      const script = isolate.compileScriptSync(code, { filename: 'file:///bootstrap.js', cachedData: cache });
      script.runSync(isolate.createContextSync());
      return isolate;
    },
    'from the snapshot': () => {
      const isolate = new ivm.Isolate({ memoryLimit: 64, snapshot });
      isolate.createContextSync();
      return isolate;
    },
  };
  const times = new Map<string, number[]>(Object.keys(ways).map((name) => [name, []]));
  for (let round = 0; round < rounds * 10; round++) {
    for (const [name, make] of Object.entries(ways)) {
      const start = process.hrtime.bigint();
      const isolate = make();
      times.get(name)!.push(elapsedMs(start));
      isolate.dispose();
    }
  }
  const snap = median(times.get('from the snapshot')!);
  const rows: FeatureRow[] = [];
  for (const [name, values] of times)
    rows.push({ name: `cold start (isolate + context), ${name}`, unit: 'ms', value: median(values) });
  rows.push({
    name: 'cold start ratio, eval / snapshot',
    unit: 'x',
    value: median(times.get('eval the bootstrap')!) / snap,
    note: '> 1: snapshot faster',
  });
  rows.push({
    name: 'cold start ratio, code cache / snapshot',
    unit: 'x',
    value: median(times.get('bootstrap from code cache')!) / snap,
    note: '> 1: snapshot faster',
  });
  rows.push({ name: 'snapshot size', unit: 'KB', value: snapshot.copy().byteLength / 1024 });
  return rows;
}

/** RSS per idle isolate holding the bootstrap, in a child process of its own (one per way). */
function idleMemory(way: 'eval' | 'snapshot', code: string): number {
  const count = 50;
  const keep: ivm.Isolate[] = [];
  const snapshot =
    way === 'snapshot' ? ivm.Isolate.createSnapshot([{ code }], undefined, { inProcess: true }) : undefined;
  global.gc?.();
  const before = process.memoryUsage().rss;
  for (let i = 0; i < count; i++) {
    const isolate = new ivm.Isolate({ memoryLimit: 32, snapshot });
    const context = isolate.createContextSync();
    if (way === 'eval') context.evalSync(code);
    keep.push(isolate);
  }
  global.gc?.();
  const rss = (process.memoryUsage().rss - before) / count / 1048576;
  for (const isolate of keep) isolate.dispose();
  return rss;
}

export async function measureFeatures(rounds: number): Promise<{ rows: FeatureRow[]; bootstrap: string }> {
  const { code, from } = bootstrapSource();
  const rows: FeatureRow[] = [...(await profileOverhead(rounds)), ...coldStart(rounds, code)];
  const memory: Record<string, number[]> = { eval: [], snapshot: [] };
  for (let round = 0; round < Math.max(1, Math.min(rounds, 3)); round++) {
    for (const way of ['eval', 'snapshot'] as const) {
      const out = execFileSync(process.execPath, ['--no-node-snapshot', '--expose-gc', __filename, '--memory', way], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: '' },
      });
      memory[way].push(Number(out.trim().split('\n').pop()));
    }
  }
  rows.push({ name: 'RSS per idle isolate with the bootstrap, evaluated', unit: 'MB', value: median(memory.eval) });
  rows.push({
    name: 'RSS per idle isolate with the bootstrap, from the snapshot',
    unit: 'MB',
    value: median(memory.snapshot),
  });
  rows.push({
    name: 'RSS ratio, evaluated / snapshot',
    unit: 'x',
    value: median(memory.eval) / median(memory.snapshot),
    note: '> 1: snapshot smaller',
  });
  return { rows, bootstrap: `${from}, ${Math.round(code.length / 1024)} KB` };
}

export function formatFeatures(result: { rows: FeatureRow[]; bootstrap: string }): string {
  const format = (value: number) =>
    value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
  const lines = [
    `islet features (bootstrap: ${result.bootstrap}; medians of alternating rounds)`,
    '',
    '| row | unit | value | |',
    '|---|---|---|---|',
  ];
  for (const row of result.rows) lines.push(`| ${row.name} | ${row.unit} | ${format(row.value)} | ${row.note ?? ''} |`);
  return lines.join('\n');
}

if (require.main === module) {
  const memoryArg = process.argv.indexOf('--memory');
  if (memoryArg > 0) {
    process.stdout.write(`${idleMemory(process.argv[memoryArg + 1] as 'eval' | 'snapshot', bootstrapSource().code)}\n`);
  } else {
    const roundsArg = process.argv.indexOf('--rounds');
    const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 3;
    measureFeatures(rounds).then(
      (result) => console.log(formatFeatures(result)),
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
  }
}
