// Filters over a tenant's log lines: time range, level, request outcome (status), method and a
// text search, as the logs route (`GET /v1/tenants/{t}/logs?level=&status=&method=&q=&since=&until=`),
// `islet logs`/`islet tail` and the dashboard ask for them. Lines are the JSON text the hub keeps;
// most tests read fields straight from that text (the Logger writes `time` first and the request
// line has a fixed shape), so a search over a ring of many MiB parses only the lines it must.
//
// Request lines match on their own status and method. Other lines of a request (console output,
// limit cuts, exceptions) follow their request: they match when its request line does. A cut or
// an uncaught exception is itself an error outcome, so it matches `status=error` (and 5xx) even
// before its request line is written. Level, text and time apply to every line on its own.
import type { Level } from '../server-log';

const LEVEL_RANK: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A status filter: `ok` (below 400), `error` (500 and above), `4xx`, `5xx`..., or one code. */
type StatusTest = (status: number) => boolean;

export interface LogQuery {
  /** at most this many lines, the newest ones (returned oldest first) */
  limit: number;
  /** lines at this level or above */
  level?: Level;
  status?: { tests: StatusTest[]; error: boolean };
  methods?: Set<string>;
  /** lower-case text searched for in the message, path, stack, request id and deployment */
  text?: string;
  /** ISO 8601, inclusive */
  since?: string;
  /** ISO 8601, exclusive */
  until?: string;
}

/** A query as the wire carries it (every field a string, as in a URL). */
export type LogQueryParams = Partial<Record<'limit' | 'level' | 'status' | 'method' | 'q' | 'since' | 'until', string>>;

export class LogFilterError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const AGE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const AGE_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `2026-01-02T03:04:05Z`, epoch milliseconds, or an age before `now` such as `15m` */
export function parseTime(field: string, text: string, now = Date.now()): string {
  const age = AGE.exec(text.trim());
  if (age) return new Date(now - Number(age[1]) * AGE_MS[age[2]!]!).toISOString();
  if (/^\d{10,}$/.test(text)) return new Date(Number(text)).toISOString();
  const time = Date.parse(text);
  if (!Number.isFinite(time))
    throw new LogFilterError(
      field,
      `${field}=${JSON.stringify(text)} is not a time: give an ISO time, epoch ms, or an age such as 15m`,
    );
  return new Date(time).toISOString();
}

function statusTest(text: string): StatusTest | 'error' {
  const value = text.trim().toLowerCase();
  if (value === 'ok') return (s) => s < 400;
  if (value === 'error') return 'error';
  const cls = /^([1-5])xx$/.exec(value);
  if (cls) {
    const low = Number(cls[1]) * 100;
    return (s) => s >= low && s < low + 100;
  }
  if (/^[1-5]\d\d$/.test(value)) {
    const code = Number(value);
    return (s) => s === code;
  }
  throw new LogFilterError('status', `status=${JSON.stringify(text)}: expected ok, error, 1xx-5xx or a status code`);
}

export function parseLogQuery(
  params: LogQueryParams,
  options: { maxLimit: number; defaultLimit: number; now?: number },
): LogQuery {
  const limitText = params.limit;
  const limit = limitText === undefined || limitText === '' ? options.defaultLimit : Number(limitText);
  if (!Number.isInteger(limit) || limit < 0 || limit > options.maxLimit)
    throw new LogFilterError(
      'limit',
      `query parameter limit=${JSON.stringify(limitText)} must be an integer from 0 to ${options.maxLimit}`,
    );
  const query: LogQuery = { limit };
  if (params.level) {
    if (!(params.level in LEVEL_RANK))
      throw new LogFilterError('level', `level=${JSON.stringify(params.level)}: expected debug, info, warn or error`);
    query.level = params.level as Level;
  }
  if (params.status) {
    const tests: StatusTest[] = [];
    let error = false;
    for (const part of params.status.split(',').filter((p) => p.trim())) {
      const test = statusTest(part);
      if (test === 'error') {
        error = true;
        tests.push((s) => s >= 500);
      } else {
        tests.push(test);
        if (test(500)) error = true;
      }
    }
    if (tests.length) query.status = { tests, error };
  }
  if (params.method) {
    const methods = params.method
      .split(',')
      .map((m) => m.trim().toUpperCase())
      .filter(Boolean);
    for (const m of methods)
      if (!/^[A-Z]{1,20}$/.test(m))
        throw new LogFilterError('method', `method=${JSON.stringify(m)} is not an HTTP method`);
    if (methods.length) query.methods = new Set(methods);
  }
  if (params.q) query.text = params.q.toLowerCase().slice(0, 500);
  const now = options.now ?? Date.now();
  if (params.since) query.since = parseTime('since', params.since, now);
  if (params.until) query.until = parseTime('until', params.until, now);
  return query;
}

/** The query as wire parameters again (to pass it to other workers). */
export function queryParams(params: LogQueryParams): LogQueryParams {
  const out: LogQueryParams = {};
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') out[k as keyof LogQueryParams] = v;
  return out;
}

// ---- reading fields from the line's text ----

/** a line's time: the Logger writes it as the first field, an ISO string that sorts by time */
export function lineTime(line: string): string {
  if (!line.startsWith('{"time":"')) return '';
  const end = line.indexOf('"', 9);
  return end > 0 ? line.slice(9, end) : '';
}

function field(line: string, name: string): string | undefined {
  const key = `"${name}":"`;
  const at = line.indexOf(key);
  if (at < 0) return undefined;
  const start = at + key.length;
  const end = line.indexOf('"', start);
  return end > 0 ? line.slice(start, end) : undefined;
}

function lineLevel(line: string): Level {
  const level = field(line, 'level');
  return level && level in LEVEL_RANK ? (level as Level) : 'info';
}

function lineSource(line: string): string | undefined {
  return field(line, 'source');
}

/** every text a person would search in, lower-cased */
function searchable(line: string): string {
  try {
    const r = JSON.parse(line) as Record<string, unknown>;
    return [r.msg, r.message, r.path, r.stack, r.requestId, r.deployment, r.method, r.limit, r.status]
      .filter((v) => v !== undefined && v !== null)
      .join('\n')
      .toLowerCase();
  } catch {
    return line.toLowerCase();
  }
}

/**
 * Tests lines against a query, newest first: request lines settle the outcome of their request,
 * which the older lines of the same request (its console output) then follow.
 */
export class LineMatcher {
  readonly #query: LogQuery;
  /** request id -> whether its request line matched (status and method) */
  readonly #outcomes = new Map<string, boolean>();
  readonly #byOutcome: boolean;
  /** a search text JSON would write as it is: the raw line can be tested first */
  readonly #rawText: string | undefined;

  constructor(query: LogQuery) {
    this.#query = query;
    this.#byOutcome = query.status !== undefined || query.methods !== undefined;
    const text = query.text;
    this.#rawText = text !== undefined && JSON.stringify(text) === `"${text}"` ? text : undefined;
  }

  /** whether `line` (seen in newest-first order) is in the answer */
  matches(line: string): boolean {
    const q = this.#query;
    if (q.since !== undefined || q.until !== undefined) {
      const time = lineTime(line);
      if (q.since !== undefined && time < q.since) return false;
      if (q.until !== undefined && time >= q.until) return false;
    }
    if (q.level !== undefined && LEVEL_RANK[lineLevel(line)] < LEVEL_RANK[q.level]) return false;
    if (this.#byOutcome && !this.#outcome(line)) return false;
    if (q.text !== undefined) {
      if (this.#rawText !== undefined && !line.toLowerCase().includes(this.#rawText)) return false;
      if (!searchable(line).includes(q.text)) return false;
    }
    return true;
  }

  #outcome(line: string): boolean {
    const q = this.#query;
    const source = lineSource(line);
    const requestId = field(line, 'requestId');
    if (source === 'request') {
      const status = Number(/"status":(\d+)/.exec(line)?.[1]);
      const method = field(line, 'method') ?? '';
      const ok = (!q.status || q.status.tests.some((t) => t(status))) && (!q.methods || q.methods.has(method));
      if (requestId !== undefined) this.#outcomes.set(requestId, ok);
      return ok;
    }
    const known = requestId === undefined ? undefined : this.#outcomes.get(requestId);
    if (known !== undefined) return known;
    // a cut or an exception is an error outcome even before (or without) its request line
    return (source === 'limit' || source === 'exception') && q.status?.error === true && q.methods === undefined;
  }
}

/**
 * A follower's filter: lines arrive oldest first, so console lines of a request come before the
 * request line that decides whether they match. They wait (bounded in bytes) until it comes.
 */
export class FollowFilter {
  readonly #query: LogQuery;
  readonly #byOutcome: boolean;
  readonly #pending = new Map<string, string[]>();
  #pendingBytes = 0;
  readonly #maxPendingBytes: number;

  constructor(query: LogQuery, maxPendingBytes = 256 * 1024) {
    this.#query = query;
    this.#byOutcome = query.status !== undefined || query.methods !== undefined;
    this.#maxPendingBytes = maxPendingBytes;
  }

  /** the lines to deliver now, in order (none, this line, or this request's held lines and it) */
  push(line: string): string[] {
    const single = new LineMatcher({ ...this.#query, status: undefined, methods: undefined });
    if (!this.#byOutcome) return single.matches(line) ? [line] : [];
    const source = lineSource(line);
    const requestId = field(line, 'requestId');
    if (source === 'request') {
      const held = requestId === undefined ? [] : (this.#pending.get(requestId) ?? []);
      if (requestId !== undefined && this.#pending.delete(requestId))
        for (const h of held) this.#pendingBytes -= h.length;
      const matcher = new LineMatcher(this.#query);
      if (!matcher.matches(line)) return [];
      return [...held.filter((h) => single.matches(h)), line];
    }
    if (requestId === undefined) return [];
    if ((source === 'limit' || source === 'exception') && new LineMatcher(this.#query).matches(line)) return [line];
    let held = this.#pending.get(requestId);
    if (!held) this.#pending.set(requestId, (held = []));
    held.push(line);
    this.#pendingBytes += line.length;
    // requests that never finish (or a flood of console output) must not grow this without bound
    while (this.#pendingBytes > this.#maxPendingBytes && this.#pending.size > 0) {
      const [oldest, lines] = this.#pending.entries().next().value as [string, string[]];
      this.#pending.delete(oldest);
      for (const h of lines) this.#pendingBytes -= h.length;
    }
    return [];
  }
}
