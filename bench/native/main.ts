// bench/native: the isolate addon against the reference library (isolated-vm), same
// operations, same machine, same run. Each library is measured in its own child processes,
// alternating (islet, reference, islet, reference...) because the machine is shared and its
// load moves; each row reports the median over rounds and the ratio reference/islet per row
// (for times: > 1 means islet is faster; for calls/s the inverse is shown so > 1 still favours
// islet).
// Usage: node --no-node-snapshot dist/bench/native/main.js [--rounds N]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { median } from '../lib/stats';

const root = path.resolve(__dirname, '../../..');
const child = path.join(__dirname, 'child.js');
const roundsArg = process.argv.indexOf('--rounds');
const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 3;

type Row = { name: string; unit: string; value: number };

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
  const out = execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, maxBuffer: 1 << 24 });
  return JSON.parse(out.trim().split('\n').pop()!) as Row[];
}

function main(): void {
  const libraries = hasReference() ? [false, true] : [false];
  const results = new Map<boolean, Map<string, { unit: string; values: number[] }>>();
  for (const reference of libraries) results.set(reference, new Map());
  for (let round = 0; round < rounds; round++) {
    for (const reference of libraries) {
      for (const memory of [false, true]) {
        for (const row of run(reference, memory)) {
          const table = results.get(reference)!;
          const entry = table.get(row.name) ?? { unit: row.unit, values: [] };
          entry.values.push(row.value);
          table.set(row.name, entry);
        }
      }
      process.stderr.write(`bench/native: round ${round + 1}/${rounds} ${reference ? 'isolated-vm' : 'islet'} done\n`);
    }
  }
  const islet = results.get(false)!;
  const reference = results.get(true);
  const lines: string[] = [];
  const format = (value: number) => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2));
  lines.push(`bench/native — ${process.version}, ${rounds} rounds, medians${reference ? '; ratio = isolated-vm / islet (> 1: islet better)' : ' (isolated-vm not installed: no ratios)'}`);
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
      ratio = entry.unit === 'calls/s' ? ours / their : their / ours;
      cells += ` ${format(their)} | ${ratio.toFixed(2)} |`;
    }
    lines.push(cells);
    json[name] = { unit: entry.unit, islet: ours, isolatedVm: theirs ? median(theirs.values) : null, ratio: ratio ?? null };
  }
  console.log(lines.join('\n'));
  const outDir = path.join(root, 'bench', 'results');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'native.json'), JSON.stringify({ date: new Date().toISOString(), node: process.version, rounds, rows: json }, null, 2) + '\n');
}

main();
