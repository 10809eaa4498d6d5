// Log lines that an unauthenticated client can cause, bounded: a request with a bad Host
// (`-x.localhost`), or a store read failing under a flood of requests, must never be one log line
// per request (a client would choose the server's log volume). Each kind of event writes at most
// `perWindow` lines per `windowMs`; the first line after a window in which some were held back
// says how many.
import type { Level, Logger, LogRecord } from '../observe/server-log';

interface Window {
  start: number;
  written: number;
  suppressed: number;
}

export class LogBudget {
  readonly #logger: Logger;
  readonly #perWindow: number;
  readonly #windowMs: number;
  readonly #windows = new Map<string, Window>();

  constructor(logger: Logger, options: { perWindow?: number; windowMs?: number } = {}) {
    this.#logger = logger;
    this.#perWindow = options.perWindow ?? 10;
    this.#windowMs = options.windowMs ?? 10_000;
  }

  /** logs `msg` unless `kind` already used its lines in this window */
  log(level: Level, kind: string, msg: string, fields: LogRecord = {}): void {
    const now = Date.now();
    let window = this.#windows.get(kind);
    if (!window || now - window.start >= this.#windowMs) {
      const suppressed = window?.suppressed ?? 0;
      window = { start: now, written: 0, suppressed: 0 };
      this.#windows.set(kind, window);
      if (suppressed > 0) fields = { ...fields, suppressedBefore: suppressed };
    }
    if (window.written >= this.#perWindow) {
      window.suppressed++;
      return;
    }
    window.written++;
    this.#logger.log(level, msg, fields);
  }
}
