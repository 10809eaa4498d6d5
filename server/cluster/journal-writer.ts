// A worker's side of its in-flight journal (journal.ts has the layout and the supervisor's side).
// It costs a few integer stores per request into memory mapped from the journal file (the
// addon's mapSharedFile): no system call, no allocation. A request's head is kept only when the
// request could be replayed at all (GET, HEAD or OPTIONS without a body), fits its slot, and
// was not answered in the turn it arrived (park): a request answered at once (most of them)
// cannot be found in flight by a death, except the one whose own code caused it, which is never
// replayed. bench/cluster measures what this costs a request.
//
// It is the front's RequestTracker (front/tracker.ts) and the host's EntryWatcher (which tenant
// Node's thread is running right now: set around every entry into an isolate).
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { RequestTracker } from '../front/tracker';
import type { EntryWatcher } from '../host/entry-watch';
import {
  BEGAN_AT,
  BEGAN_ENTRIES,
  H,
  HEADER_BYTES,
  JOURNAL_BYTES,
  MAGIC,
  MAX_HEAD_BYTES,
  MAX_NAME_BYTES,
  RUNNING_TENANT_AT,
  S,
  SLOT_BYTES,
  SLOT_HEAD_AT,
  SLOT_TENANT_AT,
  SLOTS,
  STATE,
  VERSION,
} from './journal';

/** the id the supervisor gave a handed-over connection, kept on its socket (supervised-worker.ts) */
export const connectionId = Symbol('islet.connectionId');

type TrackedSocket = Socket & { [connectionId]?: number };

const SLOT_INTS = SLOT_BYTES / 4;
const replayable = new Set(['GET', 'HEAD', 'OPTIONS']);

export class JournalWriter implements RequestTracker, EntryWatcher {
  readonly #bytes: Buffer;
  readonly #ints: Int32Array;
  /** free slot indexes (a stack) */
  readonly #free = new Int32Array(SLOTS);
  #freeCount = SLOTS;
  #lastRunning = '';

  constructor(buffer: ArrayBuffer) {
    if (buffer.byteLength < JOURNAL_BYTES) throw new RangeError('journal: the mapped file is too short');
    this.#bytes = Buffer.from(buffer, 0, JOURNAL_BYTES);
    this.#ints = new Int32Array(buffer, 0, JOURNAL_BYTES / 4);
    for (let i = 0; i < SLOTS; i++) this.#free[i] = SLOTS - 1 - i;
    this.#ints[H.slots] = SLOTS;
    this.#ints[H.slotBytes] = SLOT_BYTES;
    this.#ints[H.version] = VERSION;
    Atomics.store(this.#ints, H.magic, MAGIC);
  }

  begin(req: IncomingMessage): number {
    const connection = (req.socket as TrackedSocket)[connectionId];
    if (connection === undefined) return -1;
    if (this.#freeCount === 0) {
      // untracked (it will get 502 if the worker dies), but the connection did begin
      this.#ints[(BEGAN_AT >> 2) + (connection % BEGAN_ENTRIES)] = connection;
      return -1;
    }
    const slot = this.#free[--this.#freeCount]!;
    const base = (HEADER_BYTES >> 2) + slot * SLOT_INTS;
    const ints = this.#ints;
    ints[base + S.tenantLength] = 0;
    ints[base + S.cold] = 0;
    ints[base + S.headLength] = 0;
    ints[base + S.state] = STATE.inFlight;
    // last: a non-zero connection makes the slot count for a reader
    Atomics.store(ints, base + S.connection, connection);
    ints[(BEGAN_AT >> 2) + (connection % BEGAN_ENTRIES)] = connection;
    return slot;
  }

  park(slot: number, req: IncomingMessage): void {
    // the bytes first, then their length: a reader sees no head or all of it
    const length = this.#writeHead(req, HEADER_BYTES + slot * SLOT_BYTES + SLOT_HEAD_AT);
    Atomics.store(this.#ints, (HEADER_BYTES >> 2) + slot * SLOT_INTS + S.headLength, length);
  }

  tenant(slot: number, tenant: string): void {
    const at = HEADER_BYTES + slot * SLOT_BYTES + SLOT_TENANT_AT;
    this.#ints[(HEADER_BYTES >> 2) + slot * SLOT_INTS + S.tenantLength] = this.#bytes.write(
      tenant,
      at,
      MAX_NAME_BYTES,
      'latin1',
    );
  }

  cold(slot: number): void {
    this.#ints[(HEADER_BYTES >> 2) + slot * SLOT_INTS + S.cold] = 1;
  }

  answering(slot: number): void {
    Atomics.store(this.#ints, (HEADER_BYTES >> 2) + slot * SLOT_INTS + S.state, STATE.answering);
  }

  end(slot: number): void {
    const base = (HEADER_BYTES >> 2) + slot * SLOT_INTS;
    Atomics.store(this.#ints, base + S.connection, 0);
    this.#ints[base + S.state] = STATE.free;
    this.#free[this.#freeCount++] = slot;
  }

  entering(tenant: string): void {
    if (tenant !== this.#lastRunning) {
      this.#ints[H.runningLength] = this.#bytes.write(tenant, RUNNING_TENANT_AT, MAX_NAME_BYTES, 'latin1');
      this.#lastRunning = tenant;
    }
    Atomics.store(this.#ints, H.running, 1);
  }

  left(): void {
    Atomics.store(this.#ints, H.running, 0);
  }

  /** the request line and headers as the client sent them, when the request could be replayed; its length or 0 */
  #writeHead(req: IncomingMessage, at: number): number {
    const method = req.method ?? '';
    if (!replayable.has(method)) return 0;
    const headers = req.headers;
    if (headers['content-length'] !== undefined && headers['content-length'] !== '0') return 0;
    if (headers['transfer-encoding'] !== undefined) return 0;
    let head = `${method} ${req.url} HTTP/${req.httpVersion}\r\n`;
    const raw = req.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
    head += '\r\n';
    // latin1: Node read the head as latin1, so this writes back the bytes the client sent
    if (head.length > MAX_HEAD_BYTES) return 0;
    return this.#bytes.write(head, at, MAX_HEAD_BYTES, 'latin1');
  }
}

/**
 * This worker's journal, mapped from the file the supervisor made for it (ISLET_JOURNAL), or
 * null with the reason when it cannot be (no such file, or an addon without mapSharedFile:
 * the reference library in comparisons). Without one, a death still gets every request a 502.
 */
export function openJournal(
  file: string,
  map: ((path: string, bytes: number) => ArrayBuffer) | undefined,
): JournalWriter {
  if (typeof map !== 'function') throw new Error('the isolate addon cannot map a shared file (mapSharedFile)');
  return new JournalWriter(map(file, JOURNAL_BYTES));
}
