// The shape of bench/results/peers.json: every raw round and every median, so the report (and
// anyone else) can recompute anything from it.
import type { LoadResult } from '../lib/loadgen';
import type { MachineInfo } from '../lib/machine';

export interface RunSettings {
  mode: 'full' | 'quick';
  rounds: number;
  /** hello-world load applied once after each start of a system, before any workload: JITs and
   *  pools of every process (two workers warm twice as slowly as one) get to steady state */
  systemWarmupSeconds: number;
  warmupSeconds: number;
  durationSeconds: number;
  connections: number;
  loadGenerator: string;
  coldSamples: number;
  memoryTenants: number;
}

export interface SystemInfo {
  id: string;
  label: string;
  describe: string;
  /** set when the system could not run; no numbers are reported for it */
  unavailable?: string;
  version?: string;
  /** how this run differs from the default build (e.g. the isolate library in use) */
  note?: string;
}

export interface RoundResult {
  round: number;
  /** 1-minute load average when the run began: how busy the shared machine was */
  loadAverage?: number;
  result?: LoadResult;
  /** why this round produced no numbers */
  error?: string;
}

export interface WorkloadSummary {
  requestsPerSecond: number;
  /** lowest and highest requests/s over the rounds: how much the shared machine moved them */
  requestsPerSecondRange: [number, number];
  p50Ms: number;
  p99Ms: number;
  /** non-2xx responses + socket errors + timeouts, summed over rounds */
  failures: number;
  rounds: number;
}

export interface ThroughputResults {
  /** workload id -> system id -> rounds in the order they ran */
  raw: Record<string, Record<string, RoundResult[]>>;
  /** workload id -> system id -> medians over the rounds that produced numbers */
  median: Record<string, Record<string, WorkloadSummary>>;
}

export interface ColdStartResult {
  system: string;
  /** what the numbers mean, in one sentence */
  measures: string;
  samplesMs: number[];
  medianMs: number;
  p90Ms?: number;
  note?: string;
  error?: string;
}

export interface MemoryResult {
  system: string;
  measures: string;
  tenants: number;
  rssBeforeBytes?: number;
  rssAfterBytes?: number;
  /** (after - before) scaled to 1,000 tenants */
  rssPer1000Bytes?: number;
  note?: string;
  error?: string;
}

/** `--contention`: the same measurements with a CPU hog beside every system (bench/peers/hog.ts) */
export interface ContentionResults {
  /** spinning processes of the hog */
  hogThreads: number;
  workloads: string[];
  throughput: ThroughputResults;
  /** workload id -> system id -> cores the hog used during each measured run (one entry per round) */
  hogCores: Record<string, Record<string, number[]>>;
}

export interface PeerResults {
  machine: MachineInfo;
  settings: RunSettings;
  systems: SystemInfo[];
  workloads: { id: string; label: string; describe: string }[];
  throughput: ThroughputResults;
  coldStart: ColdStartResult[];
  memory: MemoryResult[];
  /** present when the run had --contention */
  contention?: ContentionResults;
  /** seconds the whole run took */
  elapsedSeconds: number;
}
