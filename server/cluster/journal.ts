// The in-flight journal of a worker process: a small file (under /dev/shm when there is one,
// so it lives in memory) that the worker maps shared and writes as it serves (journal-writer.ts,
// a few integer stores per request, no system call) and that the supervisor reads after the
// worker died. It says which tenant's code the worker was running at that moment, and, for each
// request in flight: the connection it came on, its tenant, whether any byte of its answer was
// sent, whether it waited for its tenant's isolate to start, and, for an idempotent request
// without a body, the bytes of its head to replay it on another worker. And which handed-over
// connections the worker began to read a request from: one the worker never got to (its event
// loop was stuck, say, in a tenant's endless garbage collection) still has its first request
// with the supervisor, which can hand it to another worker whatever its method.
//
// Layout (little-endian int32 fields, then bytes):
//   header (256 bytes): magic, version, slot count, slot size, running flag, running tenant length;
//                       the running tenant's name at byte 64 (at most 128 bytes)
//   slots (SLOT_BYTES each): connection id (0: free), state, tenant length, head length, cold flag;
//                            the tenant's name at byte 32 (at most 128), the head at byte 160
//   began (BEGAN_ENTRIES int32): the newest connection id that began a request, at id % BEGAN_ENTRIES
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const MAGIC = 0x4a4c5349; // 'ISLJ'
export const VERSION = 1;
export const HEADER_BYTES = 256;
export const SLOT_BYTES = 4096;
/** requests in flight one worker journals; more are served, untracked (a death gives them 502) */
export const SLOTS = 512;
export const BEGAN_ENTRIES = 16_384;
export const BEGAN_AT = HEADER_BYTES + SLOTS * SLOT_BYTES;
export const JOURNAL_BYTES = BEGAN_AT + BEGAN_ENTRIES * 4;

/** int32 indexes in the header */
export const H = { magic: 0, version: 1, slots: 2, slotBytes: 3, running: 4, runningLength: 5 } as const;
export const RUNNING_TENANT_AT = 64;
export const MAX_NAME_BYTES = 128;

/** int32 indexes in a slot */
export const S = { connection: 0, state: 1, tenantLength: 2, headLength: 3, cold: 4 } as const;
export const SLOT_TENANT_AT = 32;
export const SLOT_HEAD_AT = SLOT_TENANT_AT + MAX_NAME_BYTES;
export const MAX_HEAD_BYTES = SLOT_BYTES - SLOT_HEAD_AT;

/** what a slot's state says of its request */
export const STATE = { free: 0, inFlight: 1, answering: 2 } as const;

/** One request the worker had not finished when it died. */
export interface JournalRequest {
  connection: number;
  /** '' when it died before its tenant was known */
  tenant: string;
  /** some of its answer may have reached the client: it must not be replayed */
  answering: boolean;
  /** it waited for its tenant's isolate to start */
  cold: boolean;
  /** the head to replay (an idempotent request without a body), or null */
  head: Buffer | null;
}

export interface JournalSnapshot {
  /** the tenant whose code Node's thread was running when the worker died, or null */
  running: string | null;
  requests: JournalRequest[];
  /**
   * whether the worker began reading a request from connection `id`: false means it never read
   * the first request the supervisor handed over with it. Ids only grow, so an entry holding a
   * newer id than `id` answers true (it surely began, thousands of connections ago).
   */
  began(id: number): boolean;
}

const FOLDER_PREFIX = 'islet-journals-';

/**
 * Where this supervisor's journals go: memory (/dev/shm) when the system has it, else the
 * temporary folder. Folders a supervisor left behind (it was killed) are removed on the way.
 */
export function journalFolder(): string {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  try {
    for (const name of fs.readdirSync(base)) {
      if (!name.startsWith(FOLDER_PREFIX)) continue;
      const pid = Number(name.slice(FOLDER_PREFIX.length));
      if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) removeJournal(path.join(base, name));
    }
  } catch {
    // not ours to list: nothing to clean
  }
  return path.join(base, `${FOLDER_PREFIX}${process.pid}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Creates a journal file for a worker about to be forked; returns its path. The file is written
 * whole (zeros) rather than left sparse: on a full tmpfs, a write into a mapped page that was
 * never allocated kills the process (SIGBUS), while a failed write here only means no journal.
 */
export function createJournal(folder: string, name: string): string {
  fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
  const file = path.join(folder, name);
  const fd = fs.openSync(file, 'w', 0o600);
  try {
    const zeros = Buffer.alloc(1 << 16);
    for (let at = 0; at < JOURNAL_BYTES; at += zeros.length) {
      fs.writeSync(fd, zeros, 0, Math.min(zeros.length, JOURNAL_BYTES - at), at);
    }
  } catch (error) {
    fs.closeSync(fd);
    removeJournal(file);
    throw error;
  }
  fs.closeSync(fd);
  return file;
}

/** Reads what a dead worker left (null: no journal, or not one this islet wrote). */
export function readJournal(file: string): JournalSnapshot | null {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    return null;
  }
  if (bytes.length < JOURNAL_BYTES) return null;
  const int = (at: number, field: number) => bytes.readInt32LE(at + field * 4);
  if (int(0, H.magic) !== MAGIC || int(0, H.version) !== VERSION) return null;
  const name = (at: number, length: number) =>
    length > 0 && length <= MAX_NAME_BYTES ? bytes.toString('latin1', at, at + length) : '';
  const running = int(0, H.running) === 1 ? name(RUNNING_TENANT_AT, int(0, H.runningLength)) || null : null;
  const requests: JournalRequest[] = [];
  for (let i = 0; i < SLOTS; i++) {
    const at = HEADER_BYTES + i * SLOT_BYTES;
    const state = int(at, S.state);
    if (int(at, S.connection) === 0 || state === STATE.free) continue;
    const headLength = int(at, S.headLength);
    requests.push({
      connection: int(at, S.connection),
      tenant: name(at + SLOT_TENANT_AT, int(at, S.tenantLength)),
      answering: state === STATE.answering,
      cold: int(at, S.cold) === 1,
      head:
        headLength > 0 && headLength <= MAX_HEAD_BYTES
          ? Buffer.from(bytes.subarray(at + SLOT_HEAD_AT, at + SLOT_HEAD_AT + headLength))
          : null,
    });
  }
  const began = (id: number) => bytes.readInt32LE(BEGAN_AT + (id % BEGAN_ENTRIES) * 4) >= id;
  return { running, requests, began };
}

/** Removes a journal (its worker is gone and it was read), or the whole folder (the supervisor stops). */
export function removeJournal(file: string): void {
  fs.rmSync(file, { force: true, recursive: true });
}
