// Every message islet's supervisor (the cluster primary) and its worker processes exchange, in one
// table: the one IPC channel of a process (primary-channel.ts, worker-channel.ts) is typed by it,
// and a request's timeout is read from here unless a caller says otherwise.
//
// Adding a message = one line here + its handler (`channel.handle`) or listener (`channel.on`) on
// the receiving side.
import type { Registry } from 'prom-client';
import type { QuarantineEntry } from '../tenants/quarantined';
import type { HistoryAnswer, HistoryQuery } from '../observe/metrics/history';
import type { CpuProfile } from '../host/isolate-api';
import type { ProfileAnswer, ProfileRequest } from '../observe/profiles/tenant-profiler';
import { notice, request, type Protocol } from './protocol';

export type { QuarantineEntry } from '../tenants/quarantined';

/** One metric of a registry as JSON: what a worker sends for the primary to sum. */
export type MetricJSON = Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number];

/** A Prometheus text exposition. */
export interface Scrape {
  contentType: string;
  body: string;
}

/** A serving process that had not applied a write when its answer was due. */
export interface Lag {
  /** e.g. "worker 2 (pid 4242)" */
  worker: string;
  pid?: number;
  reason: 'timeout' | 'gone' | 'failed' | 'unsent';
  message: string;
}

/** A tenant's most recent log lines that match a query (observe/tenant-logs/query.ts), as URL parameters. */
interface TenantLines {
  tenant: string;
  query: Partial<Record<'limit' | 'level' | 'status' | 'method' | 'q' | 'since' | 'until', string>>;
}

/** One serving process as `GET /v1/workers` shows it. */
export interface ProcessStats {
  pid: number;
  /** epoch ms */
  startedAt: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** live tenant isolates */
  isolates: number;
  /** open tenant connections (requests in flight in one process) */
  connections: number;
}

/** What the supervisor knows of its workers, each slot with what its worker says of itself. */
export interface WorkersAnswer {
  supervisor: { pid: number; startedAt: number };
  restarts: number;
  crashLoops: number;
  workers: {
    slot: number;
    pid: number | null;
    state: 'ready' | 'starting' | 'down';
    startedAt: number | null;
    restarts: number;
    connections: number;
    stats: ProcessStats | null;
  }[];
}

export const islet = {
  name: 'islet',
  workerRequests: {
    /** this worker's registry, to be summed with the others' (observe/metrics/cluster.ts) */
    'metrics.collect': request<void, MetricJSON[]>(3000),
    /** this worker's recent lines of a tenant, to be merged with the others' (observe/tenant-logs/cluster.ts) */
    'logs.collect': request<TenantLines, string[]>(1000),
    /** serve every store change up to `revision`, then answer (read-your-writes, cluster/store-fanout.ts) */
    'store.apply': request<{ revision: number }, { applied: number }>(5000),
    /** this worker's pid, uptime, memory and isolates, for the workers view */
    'process.stats': request<void, ProcessStats>(1000),
    /** this worker's isolates of a tenant, CPU-profiled for N seconds (the asker sets the timeout from N) */
    'profile.collect': request<ProfileRequest, CpuProfile[]>(60_000),
  },
  primaryRequests: {
    /** a client scraped this worker's admin port: the sum over every worker, please */
    'metrics.scrape': request<void, Scrape>(5000),
    /** a client read a tenant's logs through this worker: every worker's lines, merged by time */
    'logs.recent': request<TenantLines, string[]>(2000),
    /** this worker's admin API wrote `revision`: bring every worker to it, and say which lag */
    'store.sync': request<{ revision: number }, { lagging: Lag[] }>(15_000),
    /** an operator ended a tenant's quarantine through this worker's admin API: false when it was not quarantined */
    'quarantine.lift': request<{ tenant: string }, boolean>(2000),
    /** the dashboard's history over a time range, from the primary's per-minute store */
    'history.query': request<HistoryQuery, HistoryAnswer>(5000),
    /** the supervisor's workers with their stats (GET /v1/workers) */
    'workers.list': request<void, WorkersAnswer>(3000),
    /** a CPU profile of a tenant over every worker, one per tenant at a time (the asker sets the timeout) */
    'profile.run': request<ProfileRequest, ProfileAnswer>(60_000),
  },
  workerNotices: {
    /** a new connection for this worker; the socket travels as the message's handle */
    'supervisor.connection': notice<{ id: number; head: string }>(),
    /** finish in-flight requests and exit; `restart`: a reload (WebSockets are closed 1012, else 1001) */
    'supervisor.drain': notice<{ restart: boolean }>(),
    /** start (on) or stop forwarding a tenant's new lines: some worker has a follower for it */
    'logs.watch': notice<{ tenant: string; on: boolean }>(),
    /** a followed tenant's new line, from whichever worker wrote it */
    'logs.relay': notice<{ tenant: string; line: string }>({ lossy: true }),
    /** every quarantined tenant (the whole list, after each change and to each new worker) */
    'quarantine.list': notice<{ tenants: QuarantineEntry[] }>(),
  },
  primaryNotices: {
    /** the worker serves; `info` is what it wants the supervisor to know (its admin port) */
    'supervisor.ready': notice<{ info?: Record<string, unknown> }>(),
    /** a handed-over connection closed: the primary drops its copy of the socket */
    'supervisor.closed': notice<{ id: number }>(),
    /** a handed-over connection became an upgrade (a WebSocket): after a death it cannot move to another worker */
    'supervisor.upgraded': notice<{ id: number }>(),
    /** a hub joined: tell it which tenants are followed */
    'logs.hello': notice<void>(),
    /** a client of this worker follows a tenant (first follower here) */
    'logs.follow': notice<{ tenant: string }>(),
    /** no client of this worker follows the tenant anymore */
    'logs.unfollow': notice<{ tenant: string }>(),
    /** a new line of a tenant the primary asked this worker to forward */
    'logs.line': notice<{ tenant: string; line: string }>({ lossy: true }),
  },
} as const satisfies Protocol;

export type Islet = typeof islet;
