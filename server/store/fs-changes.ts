// The directory store's change log: one file of fixed-size records, appended under the store's
// write lock (fs-lock.ts). Record n (from 1) sits at byte (n - 1) * 128, so the revision of the
// newest change is the file's size / 128: a stat tells a reader whether anything changed, and
// `since(r)` reads from byte r * 128 without scanning. A record torn by a crash (the file's size
// not a multiple of 128) is ignored by readers and cut off by the next writer; the dead writer's
// intent is logged again by whoever breaks its lock.
import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import type { ChangeKind, LoggedChange } from './types';

export const recordBytes = 128;

interface Record {
  t: string;
  k: ChangeKind;
  /** ms since the epoch */
  at: number;
}

function encode(tenant: string, kind: ChangeKind, at: number): Buffer {
  const json = JSON.stringify({ t: tenant, k: kind, at } satisfies Record);
  if (json.length > recordBytes - 1) throw new Error(`change record too long (${json.length} bytes): ${json}`);
  return Buffer.from(`${json.padEnd(recordBytes - 1, ' ')}\n`, 'utf8');
}

function decode(bytes: Buffer, revision: number): LoggedChange | null {
  try {
    const record = JSON.parse(bytes.toString('utf8')) as Record;
    if (typeof record.t !== 'string' || typeof record.k !== 'string' || typeof record.at !== 'number') return null;
    return { revision, tenant: record.t, kind: record.k, at: new Date(record.at).toISOString() };
  } catch {
    return null; // a record zeroed by a power cut: its writer's lock is broken and the intent logged again
  }
}

export class FsChangeLog {
  readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  /** Appends one change; the caller holds the write lock. Durable (fsynced) before it resolves. */
  async append(tenant: string, kind: ChangeKind): Promise<LoggedChange> {
    const handle = await fs.open(this.file, 'a', 0o600);
    try {
      const { size } = await handle.stat();
      const whole = size - (size % recordBytes);
      if (whole !== size) await handle.truncate(whole); // a torn record of a writer that died
      const at = Date.now();
      await handle.write(encode(tenant, kind, at));
      await handle.datasync();
      return { revision: whole / recordBytes + 1, tenant, kind, at: new Date(at).toISOString() };
    } finally {
      await handle.close();
    }
  }

  currentRevisionSync(): number {
    try {
      return Math.floor(fsSync.statSync(this.file).size / recordBytes);
    } catch {
      return 0;
    }
  }

  async currentRevision(): Promise<number> {
    try {
      return Math.floor((await fs.stat(this.file)).size / recordBytes);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw error;
    }
  }

  async since(revision: number, limit: number): Promise<LoggedChange[]> {
    const from = Math.max(0, Math.floor(revision));
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.file, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    try {
      const { size } = await handle.stat();
      const count = Math.min(Math.max(0, Math.floor(size / recordBytes) - from), limit);
      if (count <= 0) return [];
      const buffer = Buffer.alloc(count * recordBytes);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, from * recordBytes);
      const out: LoggedChange[] = [];
      for (let i = 0; i < Math.floor(bytesRead / recordBytes); i++) {
        const change = decode(buffer.subarray(i * recordBytes, (i + 1) * recordBytes), from + i + 1);
        if (change) out.push(change);
      }
      return out;
    } finally {
      await handle.close();
    }
  }
}
