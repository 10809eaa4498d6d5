// Resident memory of the server under soak, sampled every second: every process of its group
// (the `islet` launcher, the server or supervisor, each worker, any helper such as esbuild's
// service), read from /proc/<pid>/status VmRSS. And the verdict: does it plateau?
//
// A leak grows at a steady rate, so over the second half of the load it adds about half of what
// the whole load added; a server that warms up (isolates, JIT code, heaps growing to their
// working size) adds nearly everything early and little late. The verdict compares the two, with
// a noise floor so a flat line wobbling by a few MB is not called growth.
import fs from 'node:fs';
import { groupPids } from '../lib/proc';

export type Role = 'launcher' | 'server' | 'worker' | 'helper';

export interface RssSample {
  /** seconds since sampling started */
  t: number;
  totalMB: number;
  /** MB per role (summed when there are several processes of that role, e.g. workers) */
  byRole: Partial<Record<Role, number>>;
  processes: number;
}

export interface RssSummary {
  samples: RssSample[];
  firstMB: number;
  minMB: number;
  maxMB: number;
  lastMB: number;
  /** when the measured load started and ended, seconds on the samples' clock */
  loadFromT: number;
  loadToT: number;
  /** least-squares slope of the total over the second half of the load, MB per minute */
  secondHalfSlopeMBPerMin: number;
  /** slope x duration of the second half: what the second half added, MB */
  secondHalfGrowthMB: number;
  /** last - first, MB (first: when sampling began, before any warm-up) */
  totalGrowthMB: number;
  /** last - the sample at the start of the load, MB */
  loadGrowthMB: number;
  /** below this, growth is taken as noise: max(8 MB, 2% of the mean) */
  noiseFloorMB: number;
  verdict: 'plateau' | 'growing' | 'too few samples';
  /** every process seen, with its role: a worker replaced during the run shows as a new pid */
  processesSeen: { pid: number; role: Role; firstSeenAt: number; lastSeenAt: number; maxMB: number }[];
}

interface ProcInfo {
  ppid: number;
  rssKB: number;
  exe: string;
}

function readProc(pid: number): ProcInfo | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    const ppid = /PPid:\s+(\d+)/.exec(status);
    let exe = '';
    try {
      exe = fs.readlinkSync(`/proc/${pid}/exe`);
    } catch {
      // exe of a process just gone, or not ours to read
    }
    return { ppid: Number(ppid?.[1] ?? 0), rssKB: Number(rss?.[1] ?? 0), exe };
  } catch {
    return null;
  }
}

export class RssSampler {
  readonly #pgid: number;
  readonly #node = fs.realpathSync(process.execPath);
  readonly #samples: RssSample[] = [];
  readonly #seen = new Map<number, { role: Role; firstSeenAt: number; lastSeenAt: number; maxMB: number }>();
  #start = 0;
  #timer?: NodeJS.Timeout;

  /** `pgid`: the process group of the server (startProcess starts it detached, as its leader). */
  constructor(pgid: number) {
    this.#pgid = pgid;
  }

  start(intervalMs = 1000): void {
    this.#start = performance.now();
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Seconds since start(), on the clock of the samples. */
  elapsed(): number {
    return Math.round((performance.now() - this.#start) / 100) / 10;
  }

  /** Stops sampling; the verdict is taken over the load, from `loadFromT` to now. */
  stop(loadFromT = 0): RssSummary {
    clearInterval(this.#timer);
    this.sample();
    return summarizeRss(
      this.#samples,
      loadFromT,
      [...this.#seen].map(([pid, s]) => ({ pid, ...s })),
    );
  }

  #leaderServes(): boolean {
    try {
      return fs.readFileSync(`/proc/${this.#pgid}/cmdline`, 'utf8').split('\0').includes('--no-node-snapshot');
    } catch {
      return false;
    }
  }

  /** Reads every process of the group once and appends a sample. */
  sample(): RssSample {
    const t = this.elapsed();
    const infos = new Map<number, ProcInfo>();
    for (const pid of groupPids(this.#pgid)) {
      const info = readProc(pid);
      if (info) infos.set(pid, info);
    }
    // The group leader is the server itself when it was started with --no-node-snapshot;
    // otherwise it is bin/islet.js's launcher, re-executing itself as its one node child. Node
    // children of the server are workers; anything else (esbuild's service) is a helper.
    const server = this.#leaderServes()
      ? this.#pgid
      : [...infos].find(([, i]) => i.ppid === this.#pgid && i.exe === this.#node)?.[0];
    const byRole: Partial<Record<Role, number>> = {};
    let totalKB = 0;
    for (const [pid, info] of infos) {
      const role: Role =
        pid === server
          ? 'server'
          : pid === this.#pgid
            ? 'launcher'
            : info.ppid === server && info.exe === this.#node
              ? 'worker'
              : 'helper';
      const mb = info.rssKB / 1024;
      byRole[role] = Math.round(((byRole[role] ?? 0) + mb) * 10) / 10;
      totalKB += info.rssKB;
      const seen = this.#seen.get(pid);
      if (seen) {
        seen.lastSeenAt = t;
        seen.maxMB = Math.max(seen.maxMB, Math.round(mb * 10) / 10);
      } else this.#seen.set(pid, { role, firstSeenAt: t, lastSeenAt: t, maxMB: Math.round(mb * 10) / 10 });
    }
    const sample = { t, totalMB: Math.round((totalKB / 1024) * 10) / 10, byRole, processes: infos.size };
    this.#samples.push(sample);
    return sample;
  }
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export function summarizeRss(
  samples: RssSample[],
  loadFromT = 0,
  processesSeen: RssSummary['processesSeen'] = [],
): RssSummary {
  const totals = samples.map((s) => s.totalMB);
  const r1 = (v: number) => Math.round(v * 10) / 10;
  const first = totals[0] ?? Number.NaN;
  const last = totals[totals.length - 1] ?? Number.NaN;
  const load = samples.filter((s) => s.t >= loadFromT);
  const loadTo = samples.length ? samples[samples.length - 1].t : loadFromT;
  const atLoadStart = load[0]?.totalMB ?? first;
  const mean = load.reduce((a, s) => a + s.totalMB, 0) / Math.max(1, load.length);
  const noiseFloor = Math.max(8, 0.02 * mean);
  const base = {
    samples,
    firstMB: first,
    minMB: Math.min(...totals),
    maxMB: Math.max(...totals),
    lastMB: last,
    loadFromT,
    loadToT: loadTo,
    totalGrowthMB: r1(last - first),
    loadGrowthMB: r1(last - atLoadStart),
    noiseFloorMB: r1(noiseFloor),
    processesSeen,
  };
  if (load.length < 6)
    return { ...base, secondHalfSlopeMBPerMin: Number.NaN, secondHalfGrowthMB: Number.NaN, verdict: 'too few samples' };
  const mid = (loadFromT + loadTo) / 2;
  const half = load.filter((s) => s.t >= mid);
  const perSecond = slope(
    half.map((s) => s.t),
    half.map((s) => s.totalMB),
  );
  const secondHalfGrowth = perSecond * (half[half.length - 1].t - half[0].t);
  // a leak adds about half of the load's growth in the second half; a warm-up adds little there
  const plateau = secondHalfGrowth <= Math.max(noiseFloor, 0.25 * (last - atLoadStart));
  return {
    ...base,
    secondHalfSlopeMBPerMin: r1(perSecond * 60),
    secondHalfGrowthMB: r1(secondHalfGrowth),
    verdict: plateau ? 'plateau' : 'growing',
  };
}
