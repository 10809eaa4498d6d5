// The tenant log hub. Everything a tenant may read about its own requests: its console output,
// one line per request, limit cuts and uncaught errors (stacks mapped to its source files). All
// of it is written as JSON lines through the server Logger (stdout), tagged with `tenant` and a
// `source` from TENANT_SOURCES; the hub watches the Logger and keeps the tagged records in a
// per-tenant ring bounded in bytes (minutes of a busy tenant's request lines, not a line count),
// so `GET /v1/tenants/{t}/logs` and `islet logs` show recent lines, search them (query.ts) and
// follow new ones. Records written by other code with the same tags (the tenant layer's console
// sink) land in the ring too; server internals without those tags never do.
//
// Under the supervisor each worker's hub keeps only its own lines; joinCluster() connects it to
// the primary's ClusterLogs (cluster.ts here) over the IPC channel, so reading and following a
// tenant through any worker sees every worker's lines.
import cluster from 'node:cluster';
import type { TenantLogRecord } from '../../host/types';
import { islet } from '../../cluster/messages';
import { workerChannel } from '../../cluster/worker-channel';
import { isoNow, LineClass, type Level, type Logger, type LogListener, type LogRecord } from '../server-log';
import { LIMIT_UNITS, TENANT_SOURCES, type LimitLogEvent, type TenantErrorEvent } from './events';
import { LineRing } from './line-ring';
import { LineMatcher, type LogQuery, type LogQueryParams, lineTime, parseLogQuery } from './query';
import { requestLevel, requestLine, type RequestLogLine } from './request-line';
import type { SourceMapper } from './source-maps';

export interface LogHubOptions {
  /** bytes kept per tenant (serialized lines); default 8 MiB: ~30,000 request lines */
  bytesPerTenant?: number;
  /** lines kept per tenant, on top of the bytes; default: no bound but the bytes */
  linesPerTenant?: number;
  /** longest console message kept whole (characters); longer ones are cut; default 16 384 */
  maxMessageChars?: number;
  /** tenants whose rings are kept; the least recently written ring goes first; default 10 000 */
  maxTenants?: number;
  /** bytes kept over all tenants; past it the least recently written rings go first; default 128 MiB */
  maxTotalBytes?: number;
  /** maps limit and error stacks to the tenant's source files */
  sourceMaps?: SourceMapper;
}

const consoleLevels: Record<TenantLogRecord['level'], Level> = {
  debug: 'debug',
  info: 'info',
  log: 'info',
  warn: 'warn',
  error: 'error',
};

/** this hub's part in the cluster (joinCluster) */
interface ClusterLink {
  /** tenants whose new lines the primary asked this worker to forward */
  watched: Set<string>;
  /** how long recentAll waits for the primary's merged lines before it answers with this worker's */
  timeoutMs: number;
  leave(): void;
}

export class LogHub {
  #logger: Logger;
  #rings = new Map<string, LineRing>();
  /** per tenant: each follower's listener -> what ends its stream when the hub closes */
  #followers = new Map<string, Map<(line: string) => void, (() => void) | undefined>>();
  #closed = false;
  #linesPerTenant: number;
  #bytesPerTenant: number;
  #maxMessageChars: number;
  #maxTenants: number;
  #maxTotalBytes: number;
  #totalBytes = 0;
  #sourceMaps: SourceMapper | undefined;
  #unsubscribe: () => void;
  /** set by joinCluster() */
  #cluster: ClusterLink | null = null;
  /** set while #write waits for the Logger to hand its record back (it does unless filtered) */
  #awaitingEcho = false;
  /** this hub's Logger listener: lines the hub writes itself skip it (writeLine) */
  #listener: LogListener = (record, line) => this.#ingest(record, line);
  /** the ring written last: the last entry of #rings already, so no re-insert is needed */
  #newestRing: LineRing | undefined;

  constructor(logger: Logger, options: LogHubOptions = {}) {
    this.#logger = logger;
    this.#linesPerTenant =
      options.linesPerTenant === undefined
        ? Number.POSITIVE_INFINITY
        : positive(options.linesPerTenant, 'linesPerTenant');
    this.#bytesPerTenant = positive(options.bytesPerTenant ?? 8 << 20, 'bytesPerTenant');
    this.#maxMessageChars = positive(options.maxMessageChars ?? 16_384, 'maxMessageChars');
    this.#maxTenants = positive(options.maxTenants ?? 10_000, 'maxTenants');
    this.#maxTotalBytes = positive(options.maxTotalBytes ?? 128 << 20, 'maxTotalBytes');
    this.#sourceMaps = options.sourceMaps;
    // bound for callers passing it around as a plain function (SandboxOptions.log)
    this.tenantLog = this.tenantLog.bind(this);
    this.#unsubscribe = logger.subscribe(this.#listener);
  }

  /**
   * Stops watching the Logger and ends every follower's stream. A server shutting down calls
   * this before closing the admin port: an open `follow=1` response would otherwise keep its
   * connection, and with it the shutdown, waiting forever.
   */
  close(): void {
    this.#closed = true;
    this.#unsubscribe();
    this.#cluster?.leave();
    const followers = [...this.#followers.values()];
    this.#followers.clear();
    for (const set of followers) {
      for (const end of set.values()) {
        try {
          end?.();
        } catch {
          // already ended by its client
        }
      }
    }
  }

  /** the most lines one answer of the logs route may carry */
  static readonly maxAnswerLines = 10_000;

  /** Tenant console output (the sandbox's `log` callback; the per-request volume cap is the sandbox's). */
  tenantLog(record: TenantLogRecord): void {
    let message = String(record.message);
    if (message.length > this.#maxMessageChars) {
      const cut = message.length - this.#maxMessageChars;
      message = `${message.slice(0, this.#maxMessageChars)}... [${cut} more characters cut]`;
    }
    this.#write(consoleLevels[record.level] ?? 'info', message, {
      tenant: record.tenant,
      deployment: record.deployment,
      requestId: record.requestId,
      source: 'tenant',
      consoleLevel: record.level,
    });
  }

  /**
   * The line written once per finished request. The hot path of logging: the line is serialized
   * by hand (logs/request-line.ts) and goes into the tenant's ring without a record object.
   */
  request(line: RequestLogLine): void {
    const level = requestLevel(line.status);
    const text = requestLine(isoNow(), level, line);
    // a level filtering it out of stdout still leaves it to the tenant (see #write)
    this.#logger.writeLine(level, text, this.#listener, LineClass.Request);
    if (typeof line.tenant === 'string') this.#keep(line.tenant, text);
  }

  /** A limit cut a request. Resolves once the line is written (after mapping the stack); never rejects. */
  async limitExceeded(event: LimitLogEvent): Promise<void> {
    const stack = event.stack ? await this.#mapStack(event.tenant, event.deployment, event.stack) : undefined;
    this.#write('warn', `${event.limit} limit exceeded`, {
      tenant: event.tenant,
      deployment: event.deployment,
      requestId: event.requestId,
      source: 'limit',
      limit: event.limit,
      measured: event.measured,
      unit: LIMIT_UNITS[event.limit],
      stack,
    });
  }

  /** The tenant's handler threw (or its module failed to load). Never rejects. */
  async tenantError(event: TenantErrorEvent): Promise<void> {
    const stack = event.stack ? await this.#mapStack(event.tenant, event.deployment, event.stack) : undefined;
    this.#write('error', event.message, {
      tenant: event.tenant,
      deployment: event.deployment,
      requestId: event.requestId,
      source: 'exception',
      stack,
    });
  }

  /** The most recent lines of a tenant, oldest first (serialized JSON, no newline). */
  recent(tenant: string, limit = Number.POSITIVE_INFINITY): string[] {
    return this.#rings.get(tenant)?.tail(limit) ?? [];
  }

  /**
   * The newest lines of a tenant that match `query`, oldest first. A search reads the ring newest
   * first in slices and lets the event loop run between them, so a search over many MiB of lines
   * never holds up the requests this process serves.
   */
  async search(tenant: string, query: LogQuery): Promise<string[]> {
    if (query.limit === 0) return [];
    const lines = this.#rings.get(tenant)?.before(query.until) ?? [];
    const matcher = new LineMatcher(query);
    const found: string[] = [];
    // at most ~2 ms of matching at a time, then the event loop runs (requests, other searches)
    let sliceStart = performance.now();
    for (let i = lines.length - 1; i >= 0 && found.length < query.limit; i--) {
      const line = lines[i]!;
      if (query.since !== undefined && lineTime(line) < query.since) break;
      if (matcher.matches(line)) found.push(line);
      if ((i & 127) === 0 && performance.now() - sliceStart > 2) {
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
    return found.reverse();
  }

  /**
   * Calls `listener` with every new line of `tenant`, until the returned unsubscribe function is
   * called; `end` is called if the hub closes first (and at once when it already has).
   */
  follow(tenant: string, listener: (line: string) => void, end?: () => void): () => void {
    if (this.#closed) {
      end?.();
      return () => {};
    }
    let set = this.#followers.get(tenant);
    if (!set) {
      this.#followers.set(tenant, (set = new Map()));
      if (this.#cluster) workerChannel().notify('logs.follow', { tenant });
    }
    set.set(listener, end);
    return () => {
      if (!set.delete(listener) || set.size > 0 || this.#followers.get(tenant) !== set) return;
      this.#followers.delete(tenant);
      if (this.#cluster) workerChannel().notify('logs.unfollow', { tenant });
    };
  }

  /**
   * The most recent lines of a tenant over every worker process when this hub joined the
   * supervisor (merged by time), else of this process. A supervisor that does not answer in time
   * leaves this worker's own lines as the answer rather than none.
   */
  async recentAll(tenant: string, filter: LogQueryParams | number = {}): Promise<string[]> {
    const params: LogQueryParams = typeof filter === 'number' ? { limit: String(filter) } : filter;
    const query = parseLogQuery(params, { maxLimit: LogHub.maxAnswerLines, defaultLimit: 100 });
    const link = this.#cluster;
    if (!link) return this.search(tenant, query);
    try {
      return await workerChannel().ask('logs.recent', { tenant, query: params }, { timeoutMs: link.timeoutMs });
    } catch {
      return this.search(tenant, query);
    }
  }

  /**
   * In a worker process under the supervisor (which holds a ClusterLogs): tenant logs then read
   * the same from every worker, although each keeps only its own lines. `recentAll` asks the
   * primary to merge every worker's recent lines, and followers receive the lines of every
   * worker, which forward a tenant's lines to the primary only while someone follows it.
   * Returns a function that leaves the cluster again.
   */
  joinCluster(options: { timeoutMs?: number } = {}): () => void {
    if (!cluster.isWorker || !process.send) {
      throw new Error('logs: joinCluster() must be called in a node:cluster worker process');
    }
    this.#cluster?.leave();
    const channel = workerChannel();
    const watched = new Set<string>();
    const stop = [
      channel.handle('logs.collect', ({ tenant, query }) =>
        this.search(tenant, parseLogQuery(query, { maxLimit: LogHub.maxAnswerLines, defaultLimit: 100 })),
      ),
      channel.on('logs.watch', ({ tenant, on }) => (on ? watched.add(tenant) : watched.delete(tenant))),
      channel.on('logs.relay', ({ tenant, line }) => this.#deliver(tenant, line)),
    ];
    const link: ClusterLink = {
      watched,
      timeoutMs: options.timeoutMs ?? islet.primaryRequests['logs.recent'].timeoutMs,
      leave: () => {
        if (this.#cluster !== link) return;
        this.#cluster = null;
        for (const off of stop) off();
        for (const tenant of this.#followers.keys()) channel.notify('logs.unfollow', { tenant });
      },
    };
    this.#cluster = link;
    // the primary answers with the tenants followed right now, and tells of each new one
    channel.notify('logs.hello', undefined);
    for (const tenant of this.#followers.keys()) channel.notify('logs.follow', { tenant });
    return link.leave;
  }

  /** How many live followers a tenant has (open `follow=1` streams). */
  followerCount(tenant: string): number {
    return this.#followers.get(tenant)?.size ?? 0;
  }

  /** Drops a tenant's lines (the tenant was deleted). */
  forget(tenant: string): void {
    const ring = this.#rings.get(tenant);
    if (!ring) return;
    this.#totalBytes -= ring.bytes;
    this.#rings.delete(tenant);
    if (ring === this.#newestRing) this.#newestRing = undefined;
  }

  #dropOldestRing(): void {
    const oldest = this.#rings.keys().next().value;
    if (oldest !== undefined) this.forget(oldest);
  }

  #write(level: Level, msg: string, fields: LogRecord): void {
    for (const key of Object.keys(fields)) if (fields[key] === undefined) delete fields[key];
    this.#awaitingEcho = true;
    this.#logger.log(level, msg, fields);
    if (this.#awaitingEcho) {
      // The server's log level filtered the record out of stdout. The tenant still gets it: an
      // operator quieting stdout must not hide a tenant's console.log from that tenant.
      this.#awaitingEcho = false;
      const record = { time: isoNow(), level, msg, ...fields };
      this.#ingest(record, JSON.stringify(record));
    }
  }

  #ingest(record: LogRecord, line: string): void {
    this.#awaitingEcho = false;
    const tenant = record.tenant;
    if (typeof tenant !== 'string' || !TENANT_SOURCES.has(record.source as string)) return;
    this.#keep(tenant, line);
  }

  /** a tenant's line: into its ring, to its followers */
  #keep(tenant: string, line: string): void {
    let ring = this.#rings.get(tenant);
    if (!ring) {
      ring = new LineRing(this.#bytesPerTenant, this.#linesPerTenant);
      if (this.#rings.size >= this.#maxTenants) this.#dropOldestRing();
      this.#rings.set(tenant, ring);
    } else if (ring !== this.#newestRing) {
      // re-insert: Map order is then least recently written first, which is what eviction wants
      this.#rings.delete(tenant);
      this.#rings.set(tenant, ring);
    }
    this.#newestRing = ring;
    this.#totalBytes += ring.push(line);
    // One tenant is bounded by bytesPerTenant; many busy tenants together by maxTotalBytes, at
    // the cost of the history of the tenants that logged least recently.
    while (this.#totalBytes > this.#maxTotalBytes && this.#rings.size > 1) this.#dropOldestRing();
    if (this.#cluster) {
      // under the supervisor, followers get every worker's lines through the primary, this
      // worker's included, so each line reaches them once and in one order
      if (this.#cluster.watched.has(tenant)) workerChannel().notify('logs.line', { tenant, line });
      return;
    }
    this.#deliver(tenant, line);
  }

  #deliver(tenant: string, line: string): void {
    const followers = this.#followers.get(tenant);
    if (!followers) return;
    for (const listener of followers.keys()) {
      try {
        listener(line);
      } catch {
        // a follower whose stream broke must not break the logging call (often a request's path)
        followers.delete(listener);
      }
    }
  }

  async #mapStack(tenant: string, deployment: string, stack: string): Promise<string> {
    if (!this.#sourceMaps) return stack;
    try {
      return await this.#sourceMaps.mapStack(tenant, deployment, stack);
    } catch {
      return stack;
    }
  }
}

function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0)
    throw new RangeError(`logs: ${name} must be a positive integer, got ${value}`);
  return value;
}
