// Requests/second and latency of each workload on each system: rounds alternate the systems
// (A B C A B C) so that drift of the shared machine (other load, thermal state) spreads over
// all of them instead of favouring whichever ran first; medians are taken over rounds.
import os from 'node:os';
import { request } from '../lib/http';
import { runLoad } from '../lib/loadgen';
import { median } from '../lib/stats';
import type { RoundResult, RunSettings, SystemInfo, ThroughputResults, WorkloadSummary } from './results';
import { SystemUnavailable, type SystemContext, type SystemUnderTest } from './system';
import type { Workload } from './workloads';

/** told around every measured load run (the contention mode reads its hog's CPU there) */
export interface RunObserver {
  begin(): void;
  end(system: string, workload: string, round: number): void;
}

export async function runThroughput(
  ctx: SystemContext,
  systems: SystemUnderTest[],
  workloads: Workload[],
  settings: RunSettings,
  infos: Map<string, SystemInfo>,
  log: (line: string) => void,
  observer?: RunObserver,
): Promise<ThroughputResults> {
  const raw: ThroughputResults['raw'] = {};
  for (const w of workloads) raw[w.id] = Object.fromEntries(systems.map((s) => [s.id, [] as RoundResult[]]));

  for (let round = 1; round <= settings.rounds; round++) {
    for (const system of systems) {
      const info = infos.get(system.id)!;
      if (info.unavailable) continue;
      let running;
      try {
        running = await system.start(ctx);
      } catch (err) {
        if (err instanceof SystemUnavailable) {
          info.unavailable = err.message;
          log(`  ${system.label}: unavailable: ${err.message.split('\n')[0]}`);
        } else {
          log(`  ${system.label}: failed to start in round ${round}: ${(err as Error).message.split('\n')[0]}`);
          for (const w of workloads) raw[w.id][system.id].push({ round, error: (err as Error).message });
        }
        continue;
      }
      try {
        if (settings.systemWarmupSeconds > 0) {
          await runLoad({
            url: `${running.baseUrl}/hello`,
            headers: running.headers,
            connections: settings.connections,
            warmupSeconds: 0,
            durationSeconds: settings.systemWarmupSeconds,
          }).catch(() => undefined); // a failing system shows up in the checked runs below
        }
        for (const w of workloads) {
          const url = running.baseUrl + w.path(ctx.upstreamUrl);
          const headers = { ...running.headers, ...w.headers };
          // One checked request first: numbers for wrong answers would be meaningless.
          let problem: string | null;
          try {
            problem = w.check(await request(url, { method: w.method, headers, body: w.body }));
          } catch (err) {
            problem = (err as Error).message;
          }
          if (problem) {
            if (!running.process.alive()) problem += `; the server exited:\n${running.process.output()}`;
            log(`  round ${round} ${system.label} ${w.id}: wrong answer, not measured: ${problem.split('\n')[0]}`);
            raw[w.id][system.id].push({ round, error: `wrong answer: ${problem}` });
            continue;
          }
          const loadAverage = Math.round(os.loadavg()[0] * 100) / 100;
          try {
            observer?.begin();
            const result = await runLoad({
              url,
              method: w.method,
              headers,
              body: w.body,
              connections: settings.connections,
              warmupSeconds: settings.warmupSeconds,
              durationSeconds: settings.durationSeconds,
            });
            observer?.end(system.id, w.id, round);
            raw[w.id][system.id].push({ round, loadAverage, result });
            const fails = result.non2xx + result.errors + result.timeouts;
            log(
              `  round ${round} ${system.label.padEnd(18)} ${w.id.padEnd(7)} ${Math.round(result.requestsPerSecond).toString().padStart(7)} req/s` +
                `  p50 ${result.latencyMs.p50.toFixed(2)} ms  p99 ${result.latencyMs.p99.toFixed(2)} ms${fails ? `  (${fails} failures)` : ''}`,
            );
          } catch (err) {
            log(`  round ${round} ${system.label} ${w.id}: load run failed: ${(err as Error).message.split('\n')[0]}`);
            raw[w.id][system.id].push({ round, error: (err as Error).message });
          }
        }
      } finally {
        await running.stop();
      }
    }
  }
  return { raw, median: summarize(raw) };
}

export function summarize(raw: ThroughputResults['raw']): ThroughputResults['median'] {
  const out: ThroughputResults['median'] = {};
  for (const [workload, bySystem] of Object.entries(raw)) {
    out[workload] = {};
    for (const [system, rounds] of Object.entries(bySystem)) {
      const ok = rounds.filter((r) => r.result).map((r) => r.result!);
      if (ok.length === 0) continue;
      const summary: WorkloadSummary = {
        requestsPerSecond: median(ok.map((r) => r.requestsPerSecond)),
        requestsPerSecondRange: [
          Math.min(...ok.map((r) => r.requestsPerSecond)),
          Math.max(...ok.map((r) => r.requestsPerSecond)),
        ],
        p50Ms: median(ok.map((r) => r.latencyMs.p50)),
        p99Ms: median(ok.map((r) => r.latencyMs.p99)),
        failures: ok.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0),
        rounds: ok.length,
      };
      out[workload][system] = summary;
    }
  }
  return out;
}
