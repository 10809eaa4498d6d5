// What `islet dev` prints: the server's JSON log records turned into lines a person reads (the
// function's console output, one line per request, limit cuts and uncaught errors), in the order
// they were written. Stacks are source-mapped: those the log hub already mapped (limit cuts,
// uncaught errors), and the ones a framework prints itself with console.error(err), whose frames
// still point into the built modules. Every piece of tenant text is escaped for the terminal
// (terminal.ts), so output of the function cannot drive the developer's terminal either.
import type { SourceMapper } from '../observe/tenant-logs/source-maps';
import { escapeTerminal, safeLines } from './terminal';

export const paint = (on: boolean) => {
  const wrap = (code: number) => (text: string) => (on ? `\x1b[${code}m${text}\x1b[0m` : text);
  return { dim: wrap(2), red: wrap(31), green: wrap(32), yellow: wrap(33), cyan: wrap(36), bold: wrap(1) };
};

function indent(text: string): string {
  return escapeTerminal(text)
    .split('\n')
    .map((line) => `    ${line.trim()}`)
    .join('\n');
}

/**
 * Turns one of the server's JSON log records into terminal lines: the function's console output,
 * one line per request, limit cuts and uncaught errors with their stacks, and the server's own
 * warnings. Routine server info is left out (null).
 */
export function formatRecord(record: Record<string, unknown>, color = false): string | null {
  const c = paint(color);
  const time = c.dim(escapeTerminal(String(record.time ?? '').slice(11, 23)));
  const stack = typeof record.stack === 'string' ? `\n${indent(record.stack)}` : '';
  switch (record.source) {
    case 'tenant': {
      const level = escapeTerminal(String(record.consoleLevel ?? record.level ?? 'log'));
      const tag =
        level === 'error'
          ? c.red(level.padEnd(5))
          : level === 'warn'
            ? c.yellow(level.padEnd(5))
            : c.cyan(level.padEnd(5));
      return `${time} ${tag} ${safeLines(String(record.msg ?? ''), '      ')}`;
    }
    case 'request': {
      const status = Number(record.status);
      const shown =
        status >= 500 ? c.red(String(status)) : status >= 400 ? c.yellow(String(status)) : c.green(String(status));
      const cold = record.cold ? c.dim(' cold') : '';
      const cpu = c.dim(`(cpu ${record.cpuMs} ms)`);
      const method = escapeTerminal(String(record.method));
      return `${time} ${method} ${escapeTerminal(String(record.path))} ${shown} ${record.wallMs} ms ${cpu}${cold}`;
    }
    case 'limit':
      return (
        `${time} ${c.red('limit')} ${escapeTerminal(String(record.limit))} limit exceeded: ${record.measured} ${record.unit ?? ''}`.trimEnd() +
        stack
      );
    case 'exception':
      return `${time} ${c.red('error')} ${safeLines(String(record.msg ?? ''), '    ')}${stack}`;
    default:
      if (record.level === 'warn' || record.level === 'error') {
        const { time: _t, level, msg, ...rest } = record;
        const extra = Object.keys(rest).length ? ` ${c.dim(escapeTerminal(JSON.stringify(rest)))}` : '';
        return `${time} ${level === 'error' ? c.red('islet') : c.yellow('islet')} ${safeLines(String(msg))}${extra}`;
      }
      return null;
  }
}

/**
 * Prints records in the order they arrive, though mapping a console message's stack takes a
 * moment: each record's text is a promise, and lines go out as the promises ahead of them settle.
 * The queue is bounded: past `maxQueued` records waiting, the newest are printed unmapped.
 */
export class DevPrinter {
  #tail: Promise<void> = Promise.resolve();
  #queued = 0;
  constructor(
    private readonly print: (line: string) => void,
    private readonly color: boolean,
    private readonly sourceMaps?: SourceMapper,
    private readonly maxQueued = 1000,
  ) {}

  record(record: Record<string, unknown>): void {
    let text: Promise<string | null>;
    const message = record.msg;
    if (
      record.source === 'tenant' &&
      typeof message === 'string' &&
      message.includes('file://') &&
      this.sourceMaps &&
      this.#queued < this.maxQueued &&
      typeof record.tenant === 'string' &&
      typeof record.deployment === 'string'
    ) {
      // console.error(err) prints err.stack: its frames name the built modules until mapped
      text = this.sourceMaps.mapStack(record.tenant, record.deployment, message).then(
        (msg) => formatRecord({ ...record, msg }, this.color),
        () => formatRecord(record, this.color),
      );
    } else {
      text = Promise.resolve(formatRecord(record, this.color));
    }
    this.#queued++;
    this.#tail = this.#tail.then(async () => {
      const line = await text;
      this.#queued--;
      if (line !== null) this.print(line);
    });
  }

  /** a line of islet dev's own, after everything queued before it */
  line(text: string): void {
    this.#tail = this.#tail.then(() => this.print(text));
  }

  /** resolves once everything queued so far is printed */
  flushed(): Promise<void> {
    return this.#tail;
  }
}
