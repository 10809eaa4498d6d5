// What the harness needs from each system under test: start it serving workload/worker.mjs on
// 127.0.0.1, tell where to send requests (base URL + headers such as Host), stop it. A system
// that cannot run here (not built, a feature missing) says why with SystemUnavailable, and the
// results carry that reason instead of numbers.
import type { ServerProcess } from '../lib/proc';

export interface RunningSystem {
  /** e.g. http://127.0.0.1:43123 (no trailing slash) */
  baseUrl: string;
  /** headers every request must carry (islet routes tenants by Host) */
  headers: Record<string, string>;
  process: ServerProcess;
  stop(): Promise<void>;
}

export interface SystemContext {
  repoRoot: string;
  /** a scratch directory that lives for the whole benchmark run */
  tmpDir: string;
  /** http://127.0.0.1:<port>/ of the local upstream used by the fetch workload */
  upstreamUrl: string;
}

export interface SystemUnderTest {
  id: string;
  label: string;
  /** one line on how it is run, for the report */
  describe: string;
  start(ctx: SystemContext): Promise<RunningSystem>;
}

export class SystemUnavailable extends Error {
  readonly code = 'BENCH_SYSTEM_UNAVAILABLE';
}
