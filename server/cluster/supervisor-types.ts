// The supervisor's vocabulary (supervisor.ts): its options, what it reports to, and what it
// keeps of each worker slot, worker process and handed-over connection.
import type { Worker } from 'node:cluster';
import type net from 'node:net';
import type { SupervisorMetrics } from '../observe/metrics/supervisor';
import type { QuarantinePolicy } from './quarantine';
import type { WorkerStderr } from './worker-stderr';

/** Where the supervisor reports workers starting and dying (the server Logger is one). */
export interface SupervisorLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface SupervisorOptions {
  workers: number;
  port: number;
  host: string;
  logger: SupervisorLog;
  /** arguments of the worker processes (the script is bin/islet.js) */
  workerArgs: string[];
  /** environment added for the workers */
  workerEnv?: Record<string, string>;
  /** open connections of one hostname beyond which its new connections are spread (default 8) */
  hotConnections?: number;
  /** time a new connection has to send its first request head (default 10 s) */
  headTimeoutMs?: number;
  /** largest first request head read before routing (default 16 KiB, as the server's header limit) */
  maxHeadBytes?: number;
  /** time workers get to finish in-flight requests on shutdown or reload */
  drainTimeoutMs: number;
  /** when a tenant is quarantined (default: 2 deaths in 10 minutes, refused for 10 minutes) */
  quarantine?: QuarantinePolicy;
  /** tenants answer on <tenant>.<baseDomain>: tells a connection's tenant from its host name */
  baseDomain?: string;
  /** the supervisor's own metrics (deaths, quarantines, replays) */
  metrics?: SupervisorMetrics;
  /** false: no in-flight journals (every request of a dead worker gets 502, as before) */
  journals?: boolean;
  /**
   * connections one client address may hold here before they are handed to a worker (which
   * applies the same cap to those it was given); 0 or absent: no cap (front/connection-cap.ts)
   */
  maxConnectionsPerClient?: number;
  /** a connection was closed over that cap */
  onConnectionRefused?: () => void;
}

export interface Connection {
  socket: net.Socket;
  hostname: string;
  /** the first request head read before the hand-over (replayed when the worker never read it) */
  head: Buffer;
  /** times its request was replayed on another worker after a death */
  replays: number;
  /** the worker took it over for an upgrade (a WebSocket): it is no longer HTTP */
  upgraded?: boolean;
}

/** One worker process and the connections handed to it. */
export interface WorkerRecord {
  worker: Worker;
  slot: Slot;
  ready: boolean;
  info?: Record<string, unknown>;
  /** handed over and not yet reported closed */
  connections: Map<number, Connection>;
  /** told to drain (reload, shutdown): its exit is expected */
  retiring: boolean;
  /** its in-flight journal (journal.ts), when journals are on */
  journal: string | null;
  stderr: WorkerStderr;
  /** epoch ms of the fork */
  startedAt: number;
}

/** A place for one worker; a dead worker's slot is refilled, keeping the hostnames it owned. */
export interface Slot {
  index: number;
  current: WorkerRecord | null;
  /** recent deaths (ms timestamps), for crash-loop detection */
  deaths: number[];
  /** workers that died in this slot and were replaced */
  restarts: number;
  restartTimer?: NodeJS.Timeout;
}

export interface SupervisorStats {
  workers: {
    slot: number;
    pid: number | null;
    ready: boolean;
    connections: number;
    /** epoch ms the slot's current worker was forked, null while the slot waits for one */
    startedAt: number | null;
    restarts: number;
  }[];
  restarts: number;
  crashLoops: number;
}
