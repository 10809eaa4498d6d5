// A worker process's stderr, as the supervisor reads it. Workers write stderr only rarely, but
// what they write there matters most when they die: V8 prints its fatal out-of-memory report,
// and the addon names the isolate that stalled near its heap limit, right before the process
// ends. So the supervisor drains each worker's stderr through a pipe (a worker never waits on
// it), keeps the last lines for the death report, and forwards everything to its own stderr,
// whole lines at a time, through a writer that never waits either (observe/fd-writer.ts: when
// the supervisor's own stderr reader lags, lines are dropped and counted as `stderr_full`).
import type { Readable } from 'node:stream';
import { FdWriter, LineClass } from '../observe/fd-writer';

/** characters of a worker's latest stderr output kept for its death report */
const TAIL_CHARS = 16 * 1024;
/** an unterminated line longer than this is forwarded as it is */
const MAX_LINE_CHARS = 64 * 1024;

let stderrWriter: FdWriter | undefined;

/** the supervisor's writer of file descriptor 2 (opened as a stream first: Node then makes it non-blocking) */
function supervisorStderr(): FdWriter {
  if (!stderrWriter) {
    void process.stderr;
    stderrWriter = new FdWriter(2, 'stderr');
  }
  return stderrWriter;
}

/**
 * What V8, Node and the addon write to stderr when they end a process, most telling first:
 * the addon's line naming the tenant, V8's fatal errors, a failed check, an uncaught exception.
 */
const FATAL_PATTERNS = [
  /^islet: .*(made no progress|heap limit|abort|out of memory)/i,
  /FATAL ERROR:.*$/,
  /Fatal (JavaScript|javascript|process) (out of memory|OOM).*$/,
  /^#\s*Fatal error in .*$/,
  /^#\s*(Check failed|Debug check failed): .*$/,
  /^(Uncaught )?\w*Error: .*$/,
];

export class WorkerStderr {
  readonly #writer: (piece: string, lines: number) => void;
  #tail = '';
  #partial = '';
  #ended: Promise<void>;

  /** `write`: where whole lines go (default: the supervisor's own stderr, never blocking) */
  constructor(stream: Readable | null | undefined, write?: (text: string, lines: number) => void) {
    this.#writer =
      write ?? ((text, lines) => supervisorStderr().write({ text, top: LineClass.Warn, counts: [0, 0, lines, 0] }));
    if (!stream) {
      this.#ended = Promise.resolve();
      return;
    }
    stream.setEncoding('utf8');
    this.#ended = new Promise((resolve) => {
      stream.on('data', (chunk: string) => this.#take(chunk));
      stream.once('end', () => {
        if (this.#partial) this.#forward(`${this.#partial}\n`, 1);
        this.#partial = '';
        resolve();
      });
      stream.once('error', () => resolve());
      stream.once('close', () => resolve());
    });
  }

  /** Resolves once the worker's stderr is read to its end, or after `timeoutMs`. */
  async drained(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** The last lines the worker wrote to stderr (at most 16 KiB). */
  get tail(): string {
    return this.#tail + this.#partial;
  }

  /** The most telling fatal line in what the worker wrote last (null when none). */
  fatalMessage(): string | null {
    const lines = this.tail.split('\n');
    for (const pattern of FATAL_PATTERNS) {
      for (let i = lines.length - 1; i >= 0; i--) {
        const match = pattern.exec(lines[i]!.trim());
        if (match) return lines[i]!.trim().slice(0, 500);
      }
    }
    return null;
  }

  #take(chunk: string): void {
    this.#tail = (this.#tail + chunk).slice(-TAIL_CHARS);
    const text = this.#partial + chunk;
    const end = text.lastIndexOf('\n');
    if (end === -1) {
      this.#partial = text;
      if (this.#partial.length > MAX_LINE_CHARS) {
        this.#forward(`${this.#partial}\n`, 1);
        this.#partial = '';
      }
      return;
    }
    this.#partial = text.slice(end + 1);
    this.#forwardLines(text.slice(0, end + 1));
  }

  /** whole lines, in pieces of at most 4096 bytes that end at a line end (a longer line alone) */
  #forwardLines(text: string): void {
    let start = 0;
    let bytes = 0;
    let lines = 0;
    let at = 0;
    while (at < text.length) {
      const next = text.indexOf('\n', at) + 1;
      const size = Buffer.byteLength(text.slice(at, next));
      if (bytes > 0 && bytes + size > 4096) {
        this.#forward(text.slice(start, at), lines);
        start = at;
        bytes = 0;
        lines = 0;
      }
      bytes += size;
      lines++;
      at = next;
    }
    if (lines > 0) this.#forward(text.slice(start), lines);
  }

  #forward(text: string, lines: number): void {
    try {
      this.#writer(text, lines);
    } catch {
      // forwarding is best effort; the tail is kept regardless
    }
  }
}
