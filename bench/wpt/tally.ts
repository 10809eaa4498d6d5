// Counting a WPT run: per job, the subtests are the union of the names either side reported (a
// side whose file failed to load reported none, and passes none of them); a subtest passes on a
// side when testharness gave it PASS there. Per directory: passed on each side and the total.
import type { JobResult, SideResults } from './jobs';
import type { Job, NotApplicable } from './manifest';

export interface FileCount {
  test: string;
  variant: string;
  total: number;
  islet?: number;
  workerd?: number;
  /** a job that produced no testharness report, or an uncaught script error, per side */
  notes?: Record<string, string>;
}

export interface DirCount {
  dir: string;
  jobs: number;
  notApplicableFiles: number;
  total: number;
  islet?: number;
  workerd?: number;
}

export interface Tally {
  dirs: DirCount[];
  files: FileCount[];
  notApplicable: NotApplicable[];
}

/** subtest keys of one result: a name that appears twice counts twice */
function keys(result: JobResult | undefined): Map<string, number> {
  const out = new Map<string, number>();
  const seen = new Map<string, number>();
  for (const t of result?.tests ?? []) {
    const n = (seen.get(t.name) ?? 0) + 1;
    seen.set(t.name, n);
    out.set(n === 1 ? t.name : `${t.name} #${n}`, t.status);
  }
  return out;
}

function note(result: JobResult | undefined): string | undefined {
  if (!result) return undefined;
  if (result.error) return result.error.slice(0, 300);
  if (result.scriptErrors.length) return result.scriptErrors.join('; ').slice(0, 300);
  if (result.timedOut) return 'timed out';
  return undefined;
}

export function tally(
  dirs: string[],
  jobs: Job[],
  notApplicable: NotApplicable[],
  sides: Partial<Record<'islet' | 'workerd', SideResults>>,
): Tally {
  const names = Object.keys(sides) as ('islet' | 'workerd')[];
  const files: FileCount[] = [];
  const perDir = new Map<string, DirCount>(
    dirs.map((dir) => [
      dir,
      {
        dir,
        jobs: 0,
        notApplicableFiles: notApplicable.filter((n) => n.dir === dir).length,
        total: 0,
        ...Object.fromEntries(names.map((n) => [n, 0])),
      },
    ]),
  );
  for (const job of jobs) {
    const bySide = names.map((side) => [side, keys(sides[side]?.get(job.id))] as const);
    const union = new Set<string>();
    for (const [, k] of bySide) for (const name of k.keys()) union.add(name);
    const count: FileCount = { test: job.test, variant: job.variant, total: union.size };
    const dir = perDir.get(job.dir)!;
    dir.jobs++;
    dir.total += union.size;
    for (const [side, k] of bySide) {
      const passed = [...k.values()].filter((s) => s === 0).length;
      count[side] = passed;
      dir[side] = (dir[side] ?? 0) + passed;
      const why = note(sides[side]?.get(job.id));
      if (why) count.notes = { ...count.notes, [side]: why };
    }
    files.push(count);
  }
  return { dirs: [...perDir.values()], files, notApplicable };
}

function pct(n: number | undefined, total: number): string {
  if (n === undefined) return '–';
  return total === 0 ? `${n}` : `${n} (${((100 * n) / total).toFixed(1)}%)`;
}

export function markdown(t: Tally, header: string): string {
  const lines = [
    header,
    '',
    '| directory | islet passed | workerd passed | subtests | jobs run | files not applicable |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  const sum = { total: 0, islet: 0, workerd: 0, jobs: 0, na: 0 };
  for (const d of t.dirs) {
    const cells = [d.dir, pct(d.islet, d.total), pct(d.workerd, d.total), d.total, d.jobs, d.notApplicableFiles];
    lines.push(`| ${cells.join(' | ')} |`);
    sum.total += d.total;
    sum.islet += d.islet ?? 0;
    sum.workerd += d.workerd ?? 0;
    sum.jobs += d.jobs;
    sum.na += d.notApplicableFiles;
  }
  const has = (side: 'islet' | 'workerd') => t.dirs.some((d) => d[side] !== undefined);
  const total = (side: 'islet' | 'workerd') => (has(side) ? pct(sum[side], sum.total) : '–');
  lines.push(`| **all** | ${total('islet')} | ${total('workerd')} | ${sum.total} | ${sum.jobs} | ${sum.na} |`);
  const reasons = new Map<string, number>();
  for (const n of t.notApplicable) reasons.set(n.reason, (reasons.get(n.reason) ?? 0) + 1);
  lines.push('', 'Not applicable, on both sides alike (files):', '');
  for (const [reason, n] of [...reasons].sort((a, b) => b[1] - a[1])) lines.push(`- ${n}: ${reason}`);
  return `${lines.join('\n')}\n`;
}
