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
// What can still be lost: the lines of the current batch when the process dies without running
// its 'exit' handlers (SIGKILL, process.abort() with no error line written before it).
import fs from 'node:fs';

/** receives every line written, one call per line (no newline); `flush`, when present, writes out what it buffered */
export type LogSink = ((line: string) => void) & { flush?(): void };

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
let exitHooked = false;

function flushAllAtExit(): void {
  for (const sink of [...unflushed]) {
    try {
      sink.flush();
    } catch {
      // stdout is gone (closed pipe): nothing left to write the lines to
    }
  }
}

/** what a batch (or a piece of one) is handed to: whole lines, each ending with a newline */
export type ChunkWriter = (chunk: string) => void;

export function batchedSink(write: ChunkWriter, options: BatchedSinkOptions = {}): BatchedSink {
  const maxChars = options.maxChars ?? 1 << 16;
  if (!Number.isInteger(maxChars) || maxChars <= 0)
    throw new RangeError(`log: maxChars must be a positive integer, got ${maxChars}`);
  // Lines are gathered into pieces: one unbounded piece, or with pipeSafe pieces of at most
  // PIPE_BUF bytes (measured per line as it comes; cutting a finished batch would mean encoding
  // it to bytes first, which cost more than the writes saved).
  const pieceBytes = options.pipeSafe ? PIPE_BUF : Infinity;
  const done: string[] = [];
  let piece = '';
  let bytes = 0;
  let chars = 0;
  const delayMs = options.delayMs ?? 0;
  if (!(delayMs >= 0 && delayMs <= 1000)) throw new RangeError(`log: delayMs must be from 0 to 1000, got ${delayMs}`);
  let scheduled: NodeJS.Immediate | NodeJS.Timeout | null = null;
  let warned = false;

  const flush = (): void => {
    if (scheduled) {
      if (delayMs > 0) clearTimeout(scheduled as NodeJS.Timeout);
      else clearImmediate(scheduled as NodeJS.Immediate);
      scheduled = null;
    }
    if (chars === 0) return;
    if (piece !== '') done.push(piece);
    const pieces = done.splice(0);
    piece = '';
    bytes = 0;
    chars = 0;
    unflushed.delete(sink);
    for (const chunk of pieces) write(chunk);
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
    (line: string): void => {
      if (pieceBytes !== Infinity) {
        const size = Buffer.byteLength(line) + 1;
        // a line longer than a piece gets a piece of its own
        if (bytes > 0 && bytes + size > pieceBytes) {
          done.push(piece);
          piece = '';
          bytes = 0;
        }
        bytes += size;
      }
      piece += line + '\n';
      chars += line.length + 1;
      if (chars >= maxChars) {
        flush();
        return;
      }
      if (scheduled) return;
      // unref: a pending batch must not keep an otherwise finished process alive; 'exit' writes it
      scheduled = delayMs > 0 ? setTimeout(flushAtTurnEnd, delayMs).unref() : setImmediate(flushAtTurnEnd).unref();
      unflushed.add(sink);
      if (!exitHooked) {
        exitHooked = true;
        process.on('exit', flushAllAtExit);
      }
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

/**
 * The sink the Logger writes to by default: stdout, batched as SERVER_LOG_BATCHING says. A
 * benchmark may pass another `write` (a file) to pay what the server pays.
 */
export function stdoutSink(write: ChunkWriter = writeStdout): BatchedSink {
  return batchedSink(write, SERVER_LOG_BATCHING);
}

const pause = new Int32Array(new SharedArrayBuffer(4));
let stdoutBroken = false;

/**
 * One write system call per piece, in order, straight to file descriptor 1. process.stdout will
 * not do for a pipe: Node writes to pipes asynchronously, and pieces queued behind a full pipe
 * go out together in one writev, which the kernel may split anywhere past 4096 bytes, in the
 * middle of a line, between another worker's writes. Writing synchronously also means an error
 * line is out before the call that logged it returns, and the lines of the batch at exit are
 * written at all. A pipe whose reader lags (the descriptor is non-blocking: EAGAIN) is waited
 * for in 1 ms steps; after 5 s of that the piece goes through process.stdout after all, so a
 * stuck log reader can slow the server but not stop it.
 */
function writeStdout(chunk: string): void {
  const bytes = Buffer.from(chunk);
  let offset = 0;
  let waitedMs = 0;
  while (offset < bytes.length) {
    try {
      offset += fs.writeSync(1, bytes, offset);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN') {
        // stdout is gone (EPIPE: nobody reads it any more): a log write must never throw into
        // the code that logged; say it once on stderr
        if (!stdoutBroken) {
          stdoutBroken = true;
          process.emitWarning(`islet log lines could not be written to stdout: ${(error as Error).message}`, {
            code: 'ISLET_LOG_WRITE_FAILED',
          });
        }
        return;
      }
      if (waitedMs >= 5000) {
        process.stdout.write(bytes.subarray(offset));
        return;
      }
      Atomics.wait(pause, 0, 0, 1);
      waitedMs++;
    }
  }
}
