// The tenant log hub. Everything a tenant may read about its own requests: its console output,
// one line per request, limit cuts and uncaught errors (stacks mapped to its source files). All
// of it is written as JSON lines through the server Logger (stdout), tagged with `tenant` and a
// `source` from TENANT_SOURCES; the hub watches the Logger and keeps the tagged records in a
// bounded per-tenant ring, so `GET /v1/tenants/{t}/logs` and `islet logs` show recent lines and
// follow new ones. Records written by other code with the same tags (the tenant layer's console
// sink) land in the ring too; server internals without those tags never do.
import cluster, { type Worker } from 'node:cluster';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import type { LimitName, TenantLogRecord } from './host/types';
import { isoNow, type Level, type Logger, type LogListener, type LogRecord } from './log';
import { requestLevel, requestLine, type RequestLogLine } from './logs/request-line';
import type { SourceMapper } from './sourcemap';

export type { RequestLogLine } from './logs/request-line';

export interface LimitLogEvent {
  tenant: string;
  deployment: string;
  requestId: string;
  limit: LimitName;
  /** the measured value that crossed the limit: ms for cpu/wall, bytes or counts otherwise */
  measured: number;
  /** the tenant's JavaScript stack where it was cut (CPU and wall limits), as the addon reports it */
  stack?: string;
}

export interface TenantErrorEvent {
  tenant: string;
  deployment: string;
  requestId?: string;
  message: string;
  stack?: string;
}

export interface LogHubOptions {
  /** lines kept per tenant; default 1000 */
  linesPerTenant?: number;
  /** bytes kept per tenant (serialized lines); default 1 MiB */
  bytesPerTenant?: number;
  /** longest console message kept whole (characters); longer ones are cut; default 16 384 */
  maxMessageChars?: number;
  /** tenants whose rings are kept; the least recently written ring goes first; default 10 000 */
  maxTenants?: number;
  /** bytes kept over all tenants; past it the least recently written rings go first; default 64 MiB */
  maxTotalBytes?: number;
  /** maps limit and error stacks to the tenant's source files */
  sourceMaps?: SourceMapper;
}

/** `source` values of records a tenant may read (with a `tenant` field naming it). */
export const TENANT_SOURCES = new Set(['tenant', 'request', 'limit', 'exception']);

const consoleLevels: Record<TenantLogRecord['level'], Level> = {
  debug: 'debug',
  info: 'info',
  log: 'info',
  warn: 'warn',
  error: 'error',
};

const units: Record<LimitName, string> = {
  cpu: 'ms',
  wall: 'ms',
  memory: 'bytes',
  body: 'bytes',
  subrequests: 'requests',
  logs: 'bytes',
  concurrency: 'requests',
};

/** The last lines of one tenant, bounded in count and in bytes. */
class LineRing {
  #lines: (string | undefined)[] = [];
  #head = 0;
  #bytes = 0;
  constructor(
    readonly maxLines: number,
    readonly maxBytes: number,
  ) {}

  get bytes(): number {
    return this.#bytes;
  }

  /** adds a line, drops the oldest past the bounds; returns the change in bytes held */
  push(line: string): number {
    const before = this.#bytes;
    this.#lines.push(line);
    this.#bytes += line.length;
    while (this.#lines.length - this.#head > this.maxLines || (this.#bytes > this.maxBytes && this.#lines.length - this.#head > 1)) {
      this.#bytes -= this.#lines[this.#head]!.length;
      // release the string now, not at the next compaction
      this.#lines[this.#head++] = undefined;
    }
    if (this.#head > this.maxLines) {
      this.#lines = this.#lines.slice(this.#head);
      this.#head = 0;
    }
    return this.#bytes - before;
  }

  tail(count: number): string[] {
    const start = Math.max(this.#head, this.#lines.length - count);
    return this.#lines.slice(start) as string[];
  }
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
  /** set by joinCluster(): the channel to the supervisor */
  #link: WorkerLink | null = null;
  #leaveCluster: (() => void) | null = null;
  /** set while #write waits for the Logger to hand its record back (it does unless filtered) */
  #awaitingEcho = false;
  /** this hub's Logger listener: lines the hub writes itself skip it (writeLine) */
  #listener: LogListener = (record, line) => this.#ingest(record, line);
  /** the ring written last: the last entry of #rings already, so no re-insert is needed */
  #newestRing: LineRing | undefined;

  constructor(logger: Logger, options: LogHubOptions = {}) {
    this.#logger = logger;
    this.#linesPerTenant = positive(options.linesPerTenant ?? 1000, 'linesPerTenant');
    this.#bytesPerTenant = positive(options.bytesPerTenant ?? 1 << 20, 'bytesPerTenant');
    this.#maxMessageChars = positive(options.maxMessageChars ?? 16_384, 'maxMessageChars');
    this.#maxTenants = positive(options.maxTenants ?? 10_000, 'maxTenants');
    this.#maxTotalBytes = positive(options.maxTotalBytes ?? 64 << 20, 'maxTotalBytes');
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
    this.#leaveCluster?.();
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

  get linesPerTenant(): number {
    return this.#linesPerTenant;
  }

  /** Tenant console output (the sandbox's `log` callback; the per-request volume cap is the sandbox's). */
  tenantLog(record: TenantLogRecord): void {
    let message = String(record.message);
    if (message.length > this.#maxMessageChars) {
      message = `${message.slice(0, this.#maxMessageChars)}... [${message.length - this.#maxMessageChars} more characters cut]`;
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
    this.#logger.writeLine(level, text, this.#listener);
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
      unit: units[event.limit],
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
  recent(tenant: string, limit = this.#linesPerTenant): string[] {
    return this.#rings.get(tenant)?.tail(limit) ?? [];
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
      this.#link?.send({ type: LOGS_FOLLOW, tenant });
    }
    set.set(listener, end);
    return () => {
      if (!set.delete(listener) || set.size > 0 || this.#followers.get(tenant) !== set) return;
      this.#followers.delete(tenant);
      this.#link?.send({ type: LOGS_UNFOLLOW, tenant });
    };
  }

  /**
   * The most recent lines of a tenant over every worker process when this hub joined the
   * supervisor (merged by time), else of this process. A supervisor that does not answer in time
   * leaves this worker's own lines as the answer rather than none.
   */
  async recentAll(tenant: string, limit = this.#linesPerTenant): Promise<string[]> {
    const link = this.#link;
    if (!link) return this.recent(tenant, limit);
    return new Promise((resolve) => {
      const id = link.nextId++;
      const timer = setTimeout(() => {
        link.pending.delete(id);
        resolve(this.recent(tenant, limit));
      }, link.timeoutMs);
      link.pending.set(id, (lines) => {
        clearTimeout(timer);
        resolve(lines);
      });
      link.send({ type: LOGS_RECENT, id, tenant, limit });
    });
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
    const link: WorkerLink = {
      watched: new Set(),
      pending: new Map(),
      nextId: 0,
      timeoutMs: options.timeoutMs ?? 2000,
      send: (message) => {
        if (process.connected) process.send!(message);
      },
    };
    const onMessage = (message: unknown): void => {
      if (!isLogsMessage(message)) return;
      switch (message.type) {
        case LOGS_COLLECT:
          link.send({ type: LOGS_COLLECTED, id: message.id, lines: this.recent(message.tenant!, message.limit) });
          break;
        case LOGS_WATCH:
          if (message.on) link.watched.add(message.tenant!);
          else link.watched.delete(message.tenant!);
          break;
        case LOGS_RELAY:
          this.#deliver(message.tenant!, message.line!);
          break;
        case LOGS_RECENT_RESULT: {
          const done = link.pending.get(message.id!);
          link.pending.delete(message.id!);
          done?.(message.lines ?? []);
          break;
        }
      }
    };
    process.on('message', onMessage);
    this.#link = link;
    // the primary answers with the tenants followed right now, and tells of each new one
    link.send({ type: LOGS_HELLO });
    for (const tenant of this.#followers.keys()) link.send({ type: LOGS_FOLLOW, tenant });
    this.#leaveCluster = () => {
      process.off('message', onMessage);
      for (const tenant of this.#followers.keys()) link.send({ type: LOGS_UNFOLLOW, tenant });
      for (const done of link.pending.values()) done([]);
      link.pending.clear();
      this.#link = null;
      this.#leaveCluster = null;
    };
    return this.#leaveCluster;
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
      ring = new LineRing(this.#linesPerTenant, this.#bytesPerTenant);
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
    if (this.#link) {
      // under the supervisor, followers get every worker's lines through the primary, this
      // worker's included, so each line reaches them once and in one order
      if (this.#link.watched.has(tenant)) this.#link.send({ type: LOGS_LINE, tenant, line });
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

/**
 * Who the admin API's auth middleware says is calling (server/deploy/auth.ts sets it as
 * `c.var.principal`): the operator, or a tenant's deploy token. Authentication is that
 * middleware's job; these routes add the scoping that belongs to them, so that a deploy token
 * never reads another tenant's logs or every tenant's metrics, whichever way they are mounted.
 * Without a principal (an auth middleware that only lets the operator through), the
 * middleware's own decision stands.
 */
type Principal = { kind: 'operator' } | { kind: 'tenant'; tenant: string };

function principalOf(c: Context): Principal | undefined {
  const principal = (c.var as Record<string, unknown>).principal as Principal | undefined;
  return principal && typeof principal === 'object' && 'kind' in principal ? principal : undefined;
}

function forbidden(c: Context, message: string): Response {
  return c.json({ error: { code: 'FORBIDDEN', message } }, 403);
}

/** After auth: refuses deploy tokens (the route shows every tenant). */
export const operatorOnly: MiddlewareHandler = async (c, next) => {
  const principal = principalOf(c);
  if (principal && principal.kind !== 'operator') {
    return forbidden(c, `${c.req.method} ${c.req.path} shows every tenant and needs the operator token`);
  }
  await next();
};

/** After auth: a deploy token reaches only its own tenant's `:tenant` routes. */
export const ownTenantOnly: MiddlewareHandler = async (c, next) => {
  const principal = principalOf(c);
  const tenant = c.req.param('tenant');
  if (principal && principal.kind !== 'operator' && principal.tenant !== tenant) {
    return forbidden(c, `this token belongs to tenant '${principal.tenant}' and cannot read the logs of tenant '${tenant}'`);
  }
  await next();
};

/**
 * Errors thrown by the auth middleware (or anything else on these routes) become the admin API's
 * `{"error": {"code", "message"}}` shape: an error carrying an HTTP `status` and a string `code`
 * keeps them; anything else is a 500 without internals.
 */
export function adminErrorResponse(error: Error, c: Context): Response {
  const { status, code } = error as Error & { status?: unknown; code?: unknown };
  if (typeof status === 'number' && status >= 400 && status <= 599 && typeof code === 'string') {
    return c.json({ error: { code, message: error.message } }, status as 400);
  }
  return c.json({ error: { code: 'INTERNAL', message: `internal error while serving ${c.req.method} ${c.req.path}` } }, 500);
}

export interface LogRoutesOptions {
  /** the admin API's auth middleware: operator token, or a deploy token of the tenant in `:tenant` */
  auth: MiddlewareHandler;
  /** answers 404 for tenants that do not exist (otherwise an unknown tenant has no lines) */
  tenantExists?(tenant: string): Promise<boolean>;
  /** lines a follower may fall behind before lines are dropped for it; default 1000 */
  followBacklog?: number;
}

const DEFAULT_LIMIT = 100;

/**
 * `GET /v1/tenants/:tenant/logs?limit=N&follow=1`: the last N lines as NDJSON, then (follow) every
 * new line as it is written, until the client goes away. A client that reads slower than the
 * tenant logs does not make the server buffer without bound: past `followBacklog` queued lines,
 * lines are dropped and one `{"msg":"lines dropped"...}` notice says how many.
 */
export function logRoutes(hub: LogHub, options: LogRoutesOptions): Hono {
  const app = new Hono();
  const backlog = options.followBacklog ?? 1000;
  app.onError(adminErrorResponse);
  app.get('/v1/tenants/:tenant/logs', options.auth, ownTenantOnly, async (c) => {
    const tenant = c.req.param('tenant');
    const limitText = c.req.query('limit');
    const limit = limitText === undefined ? DEFAULT_LIMIT : Number(limitText);
    if (!Number.isInteger(limit) || limit < 0 || limit > hub.linesPerTenant) {
      return c.json(
        {
          error: {
            code: 'LOGS_INVALID_LIMIT',
            message: `query parameter limit=${JSON.stringify(limitText)} must be an integer from 0 to ${hub.linesPerTenant}`,
          },
        },
        400,
      );
    }
    if (options.tenantExists && !(await options.tenantExists(tenant))) {
      return c.json({ error: { code: 'TENANT_NOT_FOUND', message: `tenant '${tenant}' does not exist` } }, 404);
    }
    const follow = ['1', 'true', 'yes'].includes(c.req.query('follow') ?? '');
    const headers = { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' };
    const recent = limit === 0 ? [] : await hub.recentAll(tenant, limit);
    if (!follow) return new Response(recent.map((line) => line + '\n').join(''), { headers });

    const encoder = new TextEncoder();
    let unsubscribe = (): void => {};
    const body = new ReadableStream<Uint8Array>(
      {
        start(controller) {
          for (const line of recent) controller.enqueue(encoder.encode(line + '\n'));
          let dropped = 0;
          unsubscribe = hub.follow(tenant, (line) => {
            if ((controller.desiredSize ?? 0) <= 0) {
              dropped++;
              return;
            }
            if (dropped > 0) {
              const notice = { time: new Date().toISOString(), level: 'warn', msg: 'lines dropped', tenant, dropped };
              controller.enqueue(encoder.encode(JSON.stringify(notice) + '\n'));
              dropped = 0;
            }
            // throws once the stream is closed; the hub then drops this follower
            controller.enqueue(encoder.encode(line + '\n'));
          }, () => controller.close());
        },
        cancel() {
          unsubscribe();
        },
      },
      new CountQueuingStrategy({ highWaterMark: Math.max(backlog, recent.length + 1) }),
    );
    return new Response(body, { headers });
  });
  return app;
}

function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`logs: ${name} must be a positive integer, got ${value}`);
  return value;
}

// The log hubs of the workers and the supervisor talk over the cluster IPC channel.
const LOGS_HELLO = 'islet:logs:hello'; // worker -> primary: tell me which tenants are followed
const LOGS_RECENT = 'islet:logs:recent'; // worker -> primary: merged recent lines, please
const LOGS_RECENT_RESULT = 'islet:logs:recent-result'; // primary -> worker
const LOGS_COLLECT = 'islet:logs:collect'; // primary -> worker: your recent lines of a tenant
const LOGS_COLLECTED = 'islet:logs:collected'; // worker -> primary
const LOGS_FOLLOW = 'islet:logs:follow'; // worker -> primary: a client here follows a tenant
const LOGS_UNFOLLOW = 'islet:logs:unfollow'; // worker -> primary: no client here follows it anymore
const LOGS_WATCH = 'islet:logs:watch'; // primary -> workers: forward (or stop forwarding) a tenant's lines
const LOGS_LINE = 'islet:logs:line'; // worker -> primary: a new line of a watched tenant
const LOGS_RELAY = 'islet:logs:relay'; // primary -> following workers: a new line
const LOGS_TYPES = new Set([
  LOGS_HELLO,
  LOGS_RECENT,
  LOGS_RECENT_RESULT,
  LOGS_COLLECT,
  LOGS_COLLECTED,
  LOGS_FOLLOW,
  LOGS_UNFOLLOW,
  LOGS_WATCH,
  LOGS_LINE,
  LOGS_RELAY,
]);

interface LogsMessage {
  type: string;
  id?: number;
  tenant?: string;
  limit?: number;
  lines?: string[];
  line?: string;
  on?: boolean;
}

function isLogsMessage(message: unknown): message is LogsMessage {
  return typeof message === 'object' && message !== null && LOGS_TYPES.has((message as { type?: unknown }).type as string);
}

interface WorkerLink {
  /** tenants the primary asked this worker to forward */
  watched: Set<string>;
  pending: Map<number, (lines: string[]) => void>;
  nextId: number;
  timeoutMs: number;
  send(message: LogsMessage): void;
}

/** a line's time: the Logger writes it as the first field, an ISO string that sorts by time */
function lineTime(line: string): string {
  const match = /^\{"time":"([^"]*)"/.exec(line);
  return match ? match[1] : '';
}

/**
 * The supervisor's (cluster primary's) side of tenant logs. Each worker keeps the lines it wrote;
 * this merges them on demand (recent lines, by time) and relays live lines of followed tenants
 * from every worker to the workers whose clients follow them. A tenant nobody follows costs no
 * IPC at all. A worker that does not answer a collection in time is left out of that answer.
 */
export class ClusterLogs {
  #timeoutMs: number;
  #nextId = 0;
  /** tenant -> ids of the workers with a client following it */
  #watchers = new Map<string, Set<number>>();
  #collections = new Map<number, { waiting: Set<number>; lines: string[][]; finish(): void }>();
  #onMessage = (worker: Worker, message: unknown): void => {
    if (!isLogsMessage(message)) return;
    switch (message.type) {
      case LOGS_HELLO:
        for (const tenant of this.#watchers.keys()) send(worker, { type: LOGS_WATCH, tenant, on: true });
        break;
      case LOGS_FOLLOW:
        this.#watch(worker.id, message.tenant!);
        break;
      case LOGS_UNFOLLOW:
        this.#unwatch(worker.id, message.tenant!);
        break;
      case LOGS_LINE:
        for (const id of this.#watchers.get(message.tenant!) ?? []) {
          const follower = cluster.workers?.[id];
          if (follower) send(follower, { type: LOGS_RELAY, tenant: message.tenant, line: message.line });
        }
        break;
      case LOGS_RECENT:
        this.#recent(message.tenant!, message.limit ?? 100).then((lines) =>
          send(worker, { type: LOGS_RECENT_RESULT, id: message.id, lines }),
        );
        break;
      case LOGS_COLLECTED: {
        const collection = this.#collections.get(message.id!);
        if (!collection || !collection.waiting.delete(worker.id)) return;
        collection.lines.push(message.lines ?? []);
        if (collection.waiting.size === 0) collection.finish();
        break;
      }
    }
  };
  #onExit = (worker: Worker): void => {
    for (const tenant of [...this.#watchers.keys()]) this.#unwatch(worker.id, tenant);
    for (const collection of this.#collections.values()) {
      if (collection.waiting.delete(worker.id) && collection.waiting.size === 0) collection.finish();
    }
  };

  constructor(options: { timeoutMs?: number } = {}) {
    if (!cluster.isPrimary) throw new Error('logs: ClusterLogs belongs in the cluster primary (the supervisor)');
    this.#timeoutMs = options.timeoutMs ?? 1000;
    cluster.on('message', this.#onMessage);
    cluster.on('exit', this.#onExit);
  }

  close(): void {
    cluster.off('message', this.#onMessage);
    cluster.off('exit', this.#onExit);
  }

  #watch(workerId: number, tenant: string): void {
    let set = this.#watchers.get(tenant);
    if (!set) {
      this.#watchers.set(tenant, (set = new Set()));
      this.#broadcast({ type: LOGS_WATCH, tenant, on: true });
    }
    set.add(workerId);
  }

  #unwatch(workerId: number, tenant: string): void {
    const set = this.#watchers.get(tenant);
    if (!set?.delete(workerId) || set.size > 0) return;
    this.#watchers.delete(tenant);
    this.#broadcast({ type: LOGS_WATCH, tenant, on: false });
  }

  #broadcast(message: LogsMessage): void {
    for (const worker of Object.values(cluster.workers ?? {})) if (worker) send(worker, message);
  }

  async #recent(tenant: string, limit: number): Promise<string[]> {
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
    const id = this.#nextId++;
    const perWorker = await new Promise<string[][]>((resolve) => {
      const collection = {
        waiting: new Set(workers.map((w) => w.id)),
        lines: [] as string[][],
        finish: () => {
          clearTimeout(timer);
          this.#collections.delete(id);
          resolve(collection.lines);
        },
      };
      const timer = setTimeout(collection.finish, this.#timeoutMs);
      this.#collections.set(id, collection);
      if (workers.length === 0) return collection.finish();
      for (const worker of workers) send(worker, { type: LOGS_COLLECT, id, tenant, limit });
    });
    // each worker's lines are already in time order; a stable sort keeps that order for ties
    const merged = perWorker.flat().map((line) => ({ line, time: lineTime(line) }));
    merged.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    return merged.slice(Math.max(0, merged.length - limit)).map((m) => m.line);
  }
}

function send(worker: Worker, message: LogsMessage): void {
  if (worker.isConnected()) worker.send(message);
}
