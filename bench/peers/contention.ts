// `bench:peers --contention`: the hello-world workload again, with a fixed CPU hog (./hog.ts)
// running beside every system for the whole phase. Rounds alternate the systems as in the main
// phase, so all of them meet the same hog. For each measured run the hog's share of the machine
// is recorded (hog CPU seconds per wall second): what the system left to it.
import type { ContentionResults, RunSettings, SystemInfo } from './results';
import type { SystemContext, SystemUnderTest } from './system';
import { startHog } from './hog';
import { runThroughput } from './throughput';
import type { Workload } from './workloads';

/** the workloads measured under contention: the target is hello world */
export const contentionWorkloads = ['hello'];

export async function runContention(
  ctx: SystemContext,
  systems: SystemUnderTest[],
  workloads: Workload[],
  settings: RunSettings,
  infos: Map<string, SystemInfo>,
  hogThreads: number,
  log: (line: string) => void,
): Promise<ContentionResults> {
  const chosen = workloads.filter((w) => contentionWorkloads.includes(w.id));
  const hogCores: ContentionResults['hogCores'] = {};
  const hog = startHog(hogThreads);
  log(`  a CPU hog of ${hogThreads} spinning process(es) runs beside every system`);
  let began = { cpu: 0, at: 0 };
  try {
    const throughput = await runThroughput(ctx, systems, chosen, settings, infos, log, {
      begin() {
        began = { cpu: hog.cpuSeconds(), at: performance.now() };
      },
      end(system, workload) {
        const seconds = (performance.now() - began.at) / 1000;
        const cores = seconds > 0 ? (hog.cpuSeconds() - began.cpu) / seconds : 0;
        ((hogCores[workload] ??= {})[system] ??= []).push(Math.round(cores * 1000) / 1000);
      },
    });
    return { hogThreads, workloads: chosen.map((w) => w.id), throughput, hogCores };
  } finally {
    await hog.stop();
  }
}
