// Writes whole-line pieces to stdout or stderr without ever making the process wait for the
// reader. A log shipper that stalls, a paused `docker logs`, a full journald: the descriptor's
// buffer fills and a write fails with EAGAIN. The piece then waits in a bounded backlog, retried
// on a timer (never a sleeping loop: the event loop keeps serving), and when the backlog passes
// its bound whole pieces are dropped, request lines first and error lines last, counted by
// log-drops.ts. Once the reader has caught up (the backlog is empty again), ONE line says how
// many lines were dropped and of which kind.
//
// Several processes share one stdout (the supervisor's workers inherit it). A write of at most
// PIPE_BUF bytes to a pipe is all-or-nothing, so pieces (which the batching sink cuts at line
// ends, at most 4096 bytes) never interleave with another process's: a piece is either written
// whole or left for a retry. A stream socket (journald, or the socketpair Node's `spawn` makes)
// writes a piece of that size whole in practice too; should one ever be written in part, the
// rest goes out first on the next try and is never dropped, so no line of this process is cut.
import fs from 'node:fs';
import { countDropped, type DropReason } from './log-drops';

/**
 * What a line is, for choosing what to drop first: request lines (one per finished request) go
 * first, then debug and info lines, then warnings; error lines go last.
 */
export const LineClass = { Request: 0, Info: 1, Warn: 2, Error: 3 } as const;
export type LineClass = (typeof LineClass)[keyof typeof LineClass];

export const LINE_CLASSES = 4;
const classNames = ['request', 'info', 'warn', 'error'] as const;

/** A run of whole lines (each ending with a newline) and how many of each class it holds. */
export interface Piece {
  text: string | Buffer;
  /** the highest class among its lines: a piece is dropped with the lines of its highest class */
  top: LineClass;
  /** lines per class, indexed by LineClass */
  counts: number[];
}

export interface FdWriterOptions {
  /** bytes waiting for the reader past which pieces are dropped; default 1 MiB */
  maxBacklogBytes?: number;
  /** first retry after a full descriptor (ms); doubled up to maxRetryMs while it stays full. Default 2 */
  retryMs?: number;
  /** default 50 */
  maxRetryMs?: number;
  /** the system call; tests pass one that fails on cue. Default fs.writeSync */
  writeSync?: (fd: number, data: Buffer) => number;
}

interface Queued extends Piece {
  bytes: number;
  /** partly written already: its rest must go out before anything else, and never be dropped */
  started: boolean;
}

export class FdWriter {
  readonly #fd: number;
  readonly #name: 'stdout' | 'stderr';
  #maxBytes: number;
  readonly #retryMs: number;
  readonly #maxRetryMs: number;
  readonly #writeSync: (fd: number, data: Buffer) => number;
  #queue: Queued[] = [];
  #head = 0;
  #queuedBytes = 0;
  #retry: NodeJS.Timeout | null = null;
  #nextRetryMs: number;
  #closed = false;
  /** dropped since the last report, per class */
  readonly #dropped = [0, 0, 0, 0];
  #droppedSince = 0;

  constructor(fd: number, name: 'stdout' | 'stderr', options: FdWriterOptions = {}) {
    this.#fd = fd;
    this.#name = name;
    this.#maxBytes = options.maxBacklogBytes ?? 1 << 20;
    if (!(this.#maxBytes >= 4096))
      throw new RangeError(`log: maxBacklogBytes must be at least 4096, got ${this.#maxBytes}`);
    this.#retryMs = options.retryMs ?? 2;
    this.#maxRetryMs = options.maxRetryMs ?? 50;
    this.#nextRetryMs = this.#retryMs;
    this.#writeSync = options.writeSync ?? ((fd, data) => fs.writeSync(fd, data));
  }

  /** pieces wait for the reader: the sink then cuts pieces where the class of lines changes */
  get backlogged(): boolean {
    return this.#head < this.#queue.length;
  }

  /** bytes waiting for the reader past which pieces are dropped */
  get maxBacklogBytes(): number {
    return this.#maxBytes;
  }

  set maxBacklogBytes(bytes: number) {
    if (!(bytes >= 4096)) throw new RangeError(`log: maxBacklogBytes must be at least 4096, got ${bytes}`);
    this.#maxBytes = bytes;
  }

  /** bytes waiting for the reader */
  get backlogBytes(): number {
    return this.#queuedBytes;
  }

  write(piece: Piece): void {
    if (!this.#closed && !this.backlogged) {
      const result = this.#tryWrite(piece.text);
      if (result === 'done') return;
      if (result !== 'again') {
        this.#enqueue(piece, result);
        return;
      }
    }
    if (this.#closed) this.#drop(piece, `${this.#name}_closed`);
    else this.#enqueue(piece);
  }

  /** One more try for everything waiting, without waiting (process exit); what is left is counted dropped. */
  flushNow(): void {
    this.#drain();
    if (!this.backlogged) return;
    for (let i = this.#head; i < this.#queue.length; i++) this.#drop(this.#queue[i]!, `${this.#name}_full`);
    this.#queue = [];
    this.#head = 0;
    this.#queuedBytes = 0;
  }

  /** 'done', 'again' (nothing written: full) or, after a partial write, the rest */
  #tryWrite(text: string | Buffer): 'done' | 'again' | Buffer {
    try {
      const bytes = typeof text === 'string' ? Buffer.from(text) : text;
      const written = this.#writeSync(this.#fd, bytes);
      return written >= bytes.length ? 'done' : bytes.subarray(written);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return 'again';
      if (code === 'EINTR') return 'again';
      this.#close(error as Error);
      return 'again';
    }
  }

  #enqueue(piece: Piece, rest?: Buffer): void {
    const text = rest ?? piece.text;
    const bytes = typeof text === 'string' ? Buffer.byteLength(text) : text.length;
    const queued: Queued = { text, top: piece.top, counts: piece.counts, bytes, started: rest !== undefined };
    if (rest) {
      // the rest of a piece already begun goes first
      this.#queue.splice(this.#head, 0, queued);
    } else this.#queue.push(queued);
    this.#queuedBytes += bytes;
    if (this.#queuedBytes > this.#maxBytes) this.#evict();
    this.#schedule();
  }

  /** drops whole pieces, lowest class first and oldest first, down to three quarters of the bound */
  #evict(): void {
    const target = (this.#maxBytes * 3) >> 2;
    for (let cls: number = LineClass.Request; cls <= LineClass.Error && this.#queuedBytes > target; cls++) {
      for (let i = this.#head; i < this.#queue.length && this.#queuedBytes > target; i++) {
        const piece = this.#queue[i]!;
        if (piece.top !== cls || piece.started || piece.bytes === 0) continue;
        this.#queuedBytes -= piece.bytes;
        piece.bytes = 0;
        this.#drop(piece, `${this.#name}_full`);
      }
    }
    this.#queue = this.#queue.filter((piece, i) => i >= this.#head && (piece.bytes > 0 || piece.started));
    this.#head = 0;
  }

  #drop(piece: Piece, reason: DropReason): void {
    let lines = 0;
    for (let cls = 0; cls < LINE_CLASSES; cls++) {
      const n = piece.counts[cls] ?? 0;
      this.#dropped[cls] += n;
      lines += n;
    }
    this.#droppedSince += lines;
    countDropped(reason, lines);
  }

  #schedule(): void {
    if (this.#retry || this.#closed) return;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.#drain();
      if (this.backlogged) {
        this.#nextRetryMs = Math.min(this.#nextRetryMs * 2, this.#maxRetryMs);
        this.#schedule();
      }
    }, this.#nextRetryMs);
    // a process that is otherwise done must not stay alive for its log: 'exit' tries once more
    this.#retry.unref();
  }

  /** writes from the head until the descriptor is full again or nothing waits */
  #drain(): void {
    let progressed = false;
    while (this.backlogged && !this.#closed) {
      const piece = this.#queue[this.#head]!;
      const result = this.#tryWrite(piece.text);
      if (result === 'again') break;
      progressed = true;
      if (result !== 'done') {
        this.#queuedBytes -= piece.bytes - result.length;
        piece.text = result;
        piece.bytes = result.length;
        piece.started = true;
        continue;
      }
      this.#queuedBytes -= piece.bytes;
      this.#queue[this.#head++] = undefined as unknown as Queued;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    if (progressed) this.#nextRetryMs = this.#retryMs;
    if (!this.backlogged) {
      this.#queue = [];
      this.#head = 0;
      this.#queuedBytes = 0;
      if (this.#droppedSince > 0 && !this.#closed) this.#report();
    }
  }

  /** the reader caught up: one line says what it missed */
  #report(): void {
    const byClass: Record<string, number> = {};
    for (let cls = 0; cls < LINE_CLASSES; cls++) {
      byClass[classNames[cls]!] = this.#dropped[cls]!;
      this.#dropped[cls] = 0;
    }
    const dropped = this.#droppedSince;
    this.#droppedSince = 0;
    const line = JSON.stringify({
      time: new Date().toISOString(),
      level: 'warn',
      msg: `log lines dropped: the reader of ${this.#name} did not keep up`,
      dropped,
      ...byClass,
      pid: process.pid,
    });
    this.write({ text: `${line}\n`, top: LineClass.Error, counts: [0, 0, 1, 0] });
  }

  #close(error: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = null;
    for (let i = this.#head; i < this.#queue.length; i++) this.#drop(this.#queue[i]!, `${this.#name}_closed`);
    this.#queue = [];
    this.#head = 0;
    this.#queuedBytes = 0;
    // said once, and never thrown into the code that logged
    process.emitWarning(`islet log lines could not be written to ${this.#name}: ${error.message}`, {
      code: 'ISLET_LOG_WRITE_FAILED',
    });
  }
}
