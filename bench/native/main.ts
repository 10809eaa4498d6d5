// bench/native: the isolate addon against the reference library (isolated-vm), same
// operations, same machine, same run. The machine is shared and its load moves, so both
// libraries are loaded in one process and measured alternately (islet, reference, islet,
// reference...); each round yields a ratio reference/islet per row, and the table reports the
// median of each library's values and the median of the per-round ratios (for times: > 1 means
// islet is faster; for calls/s the ratio is inverted so > 1 still favours islet). Resident memory
// per isolate is measured in separate processes, one per library.
// Usage: node --no-node-snapshot dist/bench/native/main.js [--rounds N]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { median } from '../lib/stats';
import { measure, type Library, type Row } from './child';
import { formatFeatures, measureFeatures } from './features';

const root = path.resolve(__dirname, '../../..');
const child = path.join(__dirname, 'child.js');
const roundsArg = process.argv.indexOf('--rounds');
const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 3;

function hasReference(): boolean {
  try {
    require.resolve('isolated-vm');
    return true;
  } catch {
    return false;
  }
}

function run(reference: boolean, memory: boolean): Row[] {
  const args = ['--no-node-snapshot', '--expose-gc'];
  if (reference) args.push('-r', path.join(root, 'scripts', 'reference-isolate.js'));
  args.push(child);
  if (memory) args.push('--memory');
  const out = execFileSync(process.execPath, args, {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
    maxBuffer: 1 << 24,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as Row[];
}

async function main(): Promise<void> {
  const libraries = hasReference() ? [false, true] : [false];
  const results = new Map<boolean, Map<string, { unit: string; values: number[] }>>();
  const ratios = new Map<string, number[]>();
  for (const reference of libraries) results.set(reference, new Map());
  const record = (reference: boolean, rows: Row[]) => {
    for (const row of rows) {
      const table = results.get(reference)!;
      const entry = table.get(row.name) ?? { unit: row.unit, values: [] };
      entry.values.push(row.value);
      table.set(row.name, entry);
    }
  };
  const isletLibrary = require('../../native') as Library;
  const isolatedVm = libraries.length > 1 ? (require('isolated-vm') as Library) : null;
  for (let round = 0; round < rounds; round++) {
    const ours = await measure(isletLibrary);
    record(false, ours);
    if (isolatedVm) {
      const theirs = await measure(isolatedVm);
      record(true, theirs);
      for (const row of ours) {
        const their = theirs.find((r) => r.name === row.name);
        if (!their) continue;
        ratios.set(row.name, [
          ...(ratios.get(row.name) ?? []),
          row.unit === 'calls/s' ? row.value / their.value : their.value / row.value,
        ]);
      }
    }
    process.stderr.write(`bench/native: round ${round + 1}/${rounds} done\n`);
  }
  for (const reference of libraries) {
    const once = run(reference, true);
    record(reference, once);
  }
  {
    const memoryOurs = results.get(false)!.get('RSS per idle isolate with a context');
    const memoryTheirs = results.get(true)?.get('RSS per idle isolate with a context');
    if (memoryOurs && memoryTheirs)
      ratios.set('RSS per idle isolate with a context', [median(memoryTheirs.values) / median(memoryOurs.values)]);
  }
  const islet = results.get(false)!;
  const reference = results.get(true);
  const lines: string[] = [];
  const format = (value: number) =>
    value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
  lines.push(
    `bench/native — ${process.version}, ${rounds} rounds, medians${reference ? '; ratio = median over rounds of isolated-vm / islet (> 1: islet better)' : ' (isolated-vm not installed: no ratios)'}`,
  );
  lines.push('');
  lines.push(`| row | unit | islet | ${reference ? 'isolated-vm | ratio |' : ''}`);
  lines.push(`|---|---|---|${reference ? '---|---|' : ''}`);
  const json: Record<string, unknown> = {};
  for (const [name, entry] of islet) {
    const ours = median(entry.values);
    let cells = `| ${name} | ${entry.unit} | ${format(ours)} |`;
    const theirs = reference?.get(name);
    let ratio: number | undefined;
    if (theirs) {
      const their = median(theirs.values);
      ratio = median(ratios.get(name) ?? [entry.unit === 'calls/s' ? ours / their : their / ours]);
      cells += ` ${format(their)} | ${ratio.toFixed(2)} |`;
    }
    lines.push(cells);
    json[name] = {
      unit: entry.unit,
      islet: ours,
      isolatedVm: theirs ? median(theirs.values) : null,
      ratio: ratio ?? null,
    };
  }
  console.log(lines.join('\n'));
  // islet's own features (profiler, snapshots): ratios between variants of this run.
  const features = await measureFeatures(rounds);
  console.log('\n' + formatFeatures(features));
  const outDir = path.join(root, 'bench', 'results');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(
    path.join(outDir, 'native.json'),
    JSON.stringify({ date: new Date().toISOString(), node: process.version, rounds, rows: json, features }, null, 2) + '\n',
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
