// The neighbour's latency for the platform cases (platform.test.ts; latency.ts is the host-work
// suites' sampler): measured while an attack runs, against its own baseline measured just before on
// the same server (the same process: the suite's islet serves in one process, so the neighbour
// shares the attacker's worker and event loop). The platform cases assert that an attack leaves
// the neighbour's p99 within twice its baseline and every neighbour request answered 200.
import assert from 'node:assert/strict';
import { outsideAttempts, type Islet } from './islet';

export interface LatencyStats {
  count: number;
  p50: number;
  p99: number;
  max: number;
  failures: string[];
}

/** what a case reports for the closing table: the neighbour's p99 before and during */
export interface NeighbourLatency {
  baseline: LatencyStats;
  during: LatencyStats;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]!;
}

function stats(samples: number[], failures: string[]): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    count: samples.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? 0,
    failures,
  };
}

/** asks the neighbour in a loop (each request awaited, 2 ms apart) until `stop()` resolves */
async function sample(islet: Islet, until: Promise<unknown>): Promise<LatencyStats> {
  let done = false;
  void until.then(
    () => (done = true),
    () => (done = true),
  );
  const samples: number[] = [];
  const failures: string[] = [];
  while (!done) {
    const started = process.hrtime.bigint();
    try {
      const r = await islet.hit('neighbour', '/', { timeoutMs: 15_000 });
      if (r.status !== 200 || r.text !== 'neighbour ok') failures.push(`${r.status} ${r.text.slice(0, 200)}`);
    } catch (error) {
      failures.push(`request failed: ${(error as Error).message}`);
    }
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
    await new Promise((r) => setTimeout(r, 2));
  }
  return stats(samples, failures);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** the neighbour's latency over `ms` with nothing else going on */
export function baseline(islet: Islet, ms = 1500): Promise<LatencyStats> {
  return sample(islet, sleep(ms));
}

/** the latency bound alone failed (every neighbour request was answered) */
export class LatencyError extends assert.AssertionError {}

/**
 * Runs `round` once more when it failed on the latency bound alone: other suites on a shared
 * 2-core machine come and go, and an attack that stalls the neighbour does it in both rounds.
 */
export async function twice<T>(round: () => Promise<T>): Promise<T> {
  try {
    return await round();
  } catch (error) {
    if (!(error instanceof LatencyError)) throw error;
    process.stderr.write(`# latency round failed (${error.message}); once more\n`);
    return round();
  }
}

/**
 * Floor of the baseline the 2x rule compares with: on a shared two-core machine a quiet p99 of a
 * millisecond or two doubles with any other process's burst; what the rule must catch is an
 * attack that holds the event loop for tens of milliseconds or more, which this floor still does.
 */
export const baselineFloorMs = 25;

/**
 * Runs `attack` while measuring the neighbour, after measuring its baseline; asserts that every
 * neighbour request succeeded, that its p99 stayed within twice the baseline (floored, above),
 * that the server is healthy and that no connection left loopback. Returns the attack's result
 * and the numbers for the report.
 */
export async function underAttack<T>(
  islet: Islet,
  attack: () => Promise<T>,
  options: {
    baselineMs?: number;
    label?: string;
    /**
     * the neighbour's latency under a control load that costs the same tenant CPU without the
     * attack (the p99 rule then compares with it: what is measured is islet's own share)
     */
    reference?: LatencyStats;
    /** a control run: measured for reference, its latency not held to the rule */
    control?: boolean;
  } = {},
): Promise<{ result: T; latency: NeighbourLatency }> {
  const before = await baseline(islet, options.baselineMs);
  const running = attack();
  const during = await sample(
    islet,
    running.then(() => sleep(20)),
  );
  const result = await running;
  const latency = { baseline: before, during };
  report(options.label ?? 'attack', latency);
  assert.deepEqual(during.failures, [], `every neighbour request succeeded (${during.count} asked)`);
  assert.ok(during.count > 0, 'the neighbour was asked during the attack');
  const reference = options.reference ?? before;
  if (options.control) return { result, latency };
  const allowed = 2 * Math.max(reference.p99, baselineFloorMs);
  if (during.p99 > allowed) {
    const message =
      `neighbour p99 ${during.p99.toFixed(1)} ms during the attack, more than 2x its ` +
      `${options.reference ? 'control' : 'baseline'} (${reference.p99.toFixed(1)} ms, floor ${baselineFloorMs} ms)`;
    throw new LatencyError({ message, actual: during.p99, expected: allowed, operator: '<=' });
  }
  if (during.p50 > 2 * Math.max(before.p50, baselineFloorMs / 5)) {
    const message = `neighbour median ${during.p50.toFixed(1)} ms during the attack, more than 2x its baseline (${before.p50.toFixed(1)} ms)`;
    throw new LatencyError({ message, actual: during.p50, expected: before.p50, operator: '<=' });
  }
  const health = await islet.admin('GET', '/healthz');
  assert.equal(health.status, 200, 'the server is alive after the attack');
  assert.deepEqual(outsideAttempts, [], 'no connection left loopback');
  return { result, latency };
}

/** one line per case on stderr (the report's table is made from these) */
export function report(label: string, { baseline: b, during: d }: NeighbourLatency): void {
  const f = (n: number) => n.toFixed(1);
  process.stderr.write(
    `# neighbour ${label}: baseline p50 ${f(b.p50)} p99 ${f(b.p99)} ms (${b.count}); ` +
      `during p50 ${f(d.p50)} p99 ${f(d.p99)} max ${f(d.max)} ms (${d.count}, ${d.failures.length} failed)\n`,
  );
}
