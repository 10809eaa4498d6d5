// The server log's sink (server-log.ts): it gathers lines and hands them to `write` as one chunk:
// at a hello-world request rate, one write system call per request line cost more than
// formatting the line. The batch
// goes out when the current event-loop turn ends (or `delayMs` after its first line), when it
// passes `maxChars`, when the Logger writes an error-level line (a process about to abort must
// not lose the line that says why), and when the process exits.
//
// Several processes may share one stdout (the supervisor's workers inherit it). The kernel keeps
// a write to a pipe whole only up to PIPE_BUF (4096 bytes on Linux): one line per write used to
// be whole, a 40 KB batch may be cut into by another worker's. With `pipeSafe`, a batch is
// written in pieces of at most 4096 bytes that end at line ends, so no line of one process is
// split by another's (a single line longer than that never was whole, and still is not).
//
// When the reader of stdout does not keep up, nothing waits for it (fd-writer.ts): pieces wait
// in a bounded backlog, and past its bound whole pieces are dropped, request lines first and
// error lines last, counted, and reported in one line once the reader caught up. While pieces
// wait, the sink cuts a new piece wherever the class of lines changes, so that dropping a piece
// of request lines never takes a warning with it.
//
// What can still be lost: the lines of the current batch when the process dies without running
// its 'exit' handlers (SIGKILL, process.abort() with no error line written before it), and lines
// still waiting for a stalled reader when the process exits.
import { FdWriter, LINE_CLASSES, LineClass, type Piece } from './fd-writer';

export { LineClass } from './fd-writer';

/**
 * receives every line written, one call per line (no newline), with its class (default: an
 * info line); `flush`, when present, writes out what it buffered
 */
export type LogSink = ((line: string, cls?: LineClass) => void) & { flush?(): void };

export type BatchedSink = LogSink & {
  /** writes every buffered line now (synchronously when `write` is) */
  flush(): void;
};

export interface BatchedSinkOptions {
  /** buffered characters past which the batch is written at once; default 65 536 */
  maxChars?: number;
  /** how long a line may wait for others (ms); 0: until the current event-loop turn ends. Default 0 */
  delayMs?: number;
  /** write pieces of at most PIPE_BUF bytes (UTF-8), each ending at a line end (see above); default false */
  pipeSafe?: boolean;
}

/** the largest write Linux keeps whole on a pipe */
const PIPE_BUF = 4096;

/** sinks holding lines not yet written, flushed at process exit */
const unflushed = new Set<BatchedSink>();
/** writers that may hold pieces for a slow reader, tried once more at process exit */
const writersAtExit = new Set<PieceWriter>();
let exitHooked = false;

function flushAllAtExit(): void {
  for (const sink of [...unflushed]) {
    try {
      sink.flush();
    } catch {
      // stdout is gone (closed pipe): nothing left to write the lines to
    }
  }
  for (const writer of writersAtExit) writer.flushNow?.();
}

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', flushAllAtExit);
}

/** what a batch (or a piece of one) is handed to: whole lines, each ending with a newline */
export type ChunkWriter = (chunk: string) => void;

/** A writer that keeps pieces for a slow reader (FdWriter): it is told each piece's classes. */
export interface PieceWriter {
  write(piece: Piece): void;
  /** pieces wait for the reader: cut pieces where the class of lines changes */
  readonly backlogged: boolean;
  /** one last try, at process exit */
  flushNow?(): void;
}

function pieceWriter(write: ChunkWriter | PieceWriter): PieceWriter {
  if (typeof write !== 'function') {
    writersAtExit.add(write);
    hookExit();
    return write;
  }
  return { write: (piece) => write(piece.text as string), backlogged: false };
}

const levelClass = { debug: LineClass.Info, info: LineClass.Info, warn: LineClass.Warn, error: LineClass.Error };

/** the class of a line of this level */
export function classOfLevel(level: 'debug' | 'info' | 'warn' | 'error'): LineClass {
  return levelClass[level];
}

export function batchedSink(write: ChunkWriter | PieceWriter, options: BatchedSinkOptions = {}): BatchedSink {
  const writer = pieceWriter(write);
  const maxChars = options.maxChars ?? 1 << 16;
  if (!Number.isInteger(maxChars) || maxChars <= 0)
    throw new RangeError(`log: maxChars must be a positive integer, got ${maxChars}`);
  // Lines are gathered into pieces: one unbounded piece, or with pipeSafe pieces of at most
  // PIPE_BUF bytes (measured per line as it comes; cutting a finished batch would mean encoding
  // it to bytes first, which cost more than the writes saved).
  const pieceBytes = options.pipeSafe ? PIPE_BUF : Infinity;
  const done: Piece[] = [];
  let piece = '';
  let counts = [0, 0, 0, 0];
  let top: LineClass = LineClass.Request;
  let bytes = 0;
  let chars = 0;
  const delayMs = options.delayMs ?? 0;
  if (!(delayMs >= 0 && delayMs <= 1000)) throw new RangeError(`log: delayMs must be from 0 to 1000, got ${delayMs}`);
  let scheduled: NodeJS.Immediate | NodeJS.Timeout | null = null;
  let warned = false;

  const cut = (): void => {
    done.push({ text: piece, top, counts });
    piece = '';
    counts = [0, 0, 0, 0];
    top = LineClass.Request;
    bytes = 0;
  };
  const flush = (): void => {
    if (scheduled) {
      if (delayMs > 0) clearTimeout(scheduled as NodeJS.Timeout);
      else clearImmediate(scheduled as NodeJS.Immediate);
      scheduled = null;
    }
    if (chars === 0) return;
    if (piece !== '') cut();
    const pieces = done.splice(0);
    chars = 0;
    unflushed.delete(sink);
    for (const p of pieces) writer.write(p);
  };
  const flushAtTurnEnd = (): void => {
    scheduled = null;
    try {
      flush();
    } catch (error) {
      // Thrown from a timer, this would be an uncaught exception taking the server down over a
      // log write; say it once on stderr instead and keep serving.
      if (!warned) {
        warned = true;
        process.emitWarning(`islet log lines could not be written: ${(error as Error)?.message ?? String(error)}`, {
          code: 'ISLET_LOG_WRITE_FAILED',
        });
      }
    }
  };
  const sink: BatchedSink = Object.assign(
    (line: string, cls: LineClass = LineClass.Info): void => {
      if (!(cls >= 0 && cls < LINE_CLASSES)) cls = LineClass.Info;
      if (pieceBytes !== Infinity) {
        const size = Buffer.byteLength(line) + 1;
        // a line longer than a piece gets a piece of its own; while the reader lags, a piece
        // holds lines of one class only (see the head of this file)
        if (bytes > 0 && (bytes + size > pieceBytes || (cls !== top && writer.backlogged))) cut();
        bytes += size;
      }
      piece += line + '\n';
      counts[cls]++;
      if (cls > top) top = cls;
      chars += line.length + 1;
      if (chars >= maxChars) {
        flush();
        return;
      }
      if (scheduled) return;
      // unref: a pending batch must not keep an otherwise finished process alive; 'exit' writes it
      scheduled = delayMs > 0 ? setTimeout(flushAtTurnEnd, delayMs).unref() : setImmediate(flushAtTurnEnd).unref();
      unflushed.add(sink);
      hookExit();
    },
    { flush },
  );
  return sink;
}

/**
 * How `islet serve` batches its log. A line waits at most 10 ms: measured serving hello world
 * (bench/accounting, README), writing once per turn still cost ~0.75 us per request line at
 * 2-8 lines a turn, and ~0.5 us with 10 ms batches of ~180 lines.
 */
export const SERVER_LOG_BATCHING: Readonly<BatchedSinkOptions> = Object.freeze({ delayMs: 10, pipeSafe: true });

let stdoutWriter: FdWriter | undefined;
let stdoutBacklogBytes: number | undefined;

/** How much log output waits for a lagging stdout reader (config logs.stdoutBufferBytes); before the first line. */
export function configureStdout(options: { maxBacklogBytes: number }): void {
  stdoutBacklogBytes = options.maxBacklogBytes;
  if (stdoutWriter) stdoutWriter.maxBacklogBytes = options.maxBacklogBytes;
}

/**
 * This process's writer of file descriptor 1 (fd-writer.ts). Node puts a pipe or socket it
 * opens as process.stdout in non-blocking mode; without that, a full pipe would block the
 * write system call itself, so the stream is opened first.
 */
export function stdoutPieceWriter(): FdWriter {
  if (!stdoutWriter) {
    void process.stdout;
    stdoutWriter = new FdWriter(1, 'stdout', { maxBacklogBytes: stdoutBacklogBytes });
  }
  return stdoutWriter;
}

/**
 * The sink the Logger writes to by default: stdout (one write system call per piece, never
 * waiting for its reader), batched as SERVER_LOG_BATCHING says. A benchmark may pass another
 * `write` (a file) to pay what the server pays.
 */
export function stdoutSink(write?: ChunkWriter): BatchedSink {
  return batchedSink(write ?? stdoutPieceWriter(), SERVER_LOG_BATCHING);
}
