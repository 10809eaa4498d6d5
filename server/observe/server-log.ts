// The server log: one JSON object per line on stdout (server events, request lines, tenant
// console output). Records carry `time`, `level` and `msg`; callers add fields. By default
// stdout is written in batches (server-log-sink.ts: at most 10 ms late); a sink with a `flush`
// is flushed before an error-level line's call returns. What a tenant may read of these lines
// is kept apart by the tenant log hub (tenant-logs/hub.ts), which watches this Logger.
import { classOfLevel, LineClass, stdoutSink, type LogSink } from './server-log-sink';

export {
  LineClass,
  SERVER_LOG_BATCHING,
  batchedSink,
  configureStdout,
  stdoutSink,
  type BatchedSink,
  type BatchedSinkOptions,
  type ChunkWriter,
  type LogSink,
  type PieceWriter,
} from './server-log-sink';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogRecord = Record<string, unknown>;
export type LogListener = (record: LogRecord, line: string) => void;

// Formatting the clock is a fixed cost per line (~0.7 us, a tenth of a request log line's cost
// at hello-world rates): lines written in the same millisecond share one formatted time.
let isoMs = -1;
let isoText = '';
/** the current time as an ISO 8601 string (millisecond precision, like Date#toISOString) */
export function isoNow(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = new Date(now).toISOString();
  }
  return isoText;
}

export class Logger {
  #min: number;
  #sink: LogSink;
  #listeners = new Set<LogListener>();

  constructor(level: Level = 'info', sink: LogSink = stdoutSink()) {
    this.#min = order[level];
    this.#sink = sink;
  }

  setLevel(level: Level): void {
    this.#min = order[level];
  }

  /**
   * Observes every record written (log streaming, dashboards), with the JSON line written for
   * it; returns an unsubscribe function.
   */
  subscribe(listener: LogListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** whether lines of this level are written (the rest are dropped by log() and writeLine()) */
  enabled(level: Level): boolean {
    return order[level] >= this.#min;
  }

  log(level: Level, msg: string, fields: LogRecord = {}): void {
    if (order[level] < this.#min) return;
    const record: LogRecord = { time: isoNow(), level, msg, ...fields };
    const line = JSON.stringify(record);
    this.#emit(level, line, classOfLevel(level));
    for (const listener of this.#listeners) listener(record, line);
  }

  /**
   * Writes a line its caller serialized itself: a hot path with a fixed shape (the request line)
   * skips building a record object and JSON.stringify. The line must be one JSON object with
   * `time`, `level` and `msg` first, like the lines log() writes. The caller, when it is a
   * listener, passes itself as `writer`: it knows what it wrote and is not told again; other
   * listeners get the record parsed back from the line. `cls` says which lines go first when
   * stdout's reader lags (request lines: LineClass.Request). Returns false when the level is filtered.
   */
  writeLine(level: Level, line: string, writer?: LogListener, cls: LineClass = classOfLevel(level)): boolean {
    if (order[level] < this.#min) return false;
    this.#emit(level, line, cls);
    if (this.#listeners.size > (writer && this.#listeners.has(writer) ? 1 : 0)) {
      const record = JSON.parse(line) as LogRecord;
      for (const listener of this.#listeners) if (listener !== writer) listener(record, line);
    }
    return true;
  }

  /** writes out whatever the sink buffered (before a deliberate exit or abort) */
  flush(): void {
    this.#sink.flush?.();
  }

  #emit(level: Level, line: string, cls: LineClass): void {
    this.#sink(line, cls);
    // the process may abort right after an error line (V8 catastrophic error): it must be out
    if (level === 'error') this.#sink.flush?.();
  }

  debug(msg: string, fields?: LogRecord): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: LogRecord): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: LogRecord): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: LogRecord): void {
    this.log('error', msg, fields);
  }
}
