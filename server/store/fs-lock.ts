// The directory store's write lock, shared by every process of the machine (islet's workers all
// serve the admin API and write the same data folder). Each write runs under it, so writes and
// the change log's revisions happen in one order, and a route check and its claim are one step.
//
// Taking it: write a claim file `claim.<token>.0.<pid>` holding {pid, process start time, token,
// intent}, then hard-link it to `store.lock`; link() fails with EEXIST while another holder has it,
// so exactly one process wins, and the lock file is complete the moment it exists. The intent
// says which change the holder is about to make.
//
// A holder that dies (kill -9) leaves `store.lock` behind. A waiter that finds its pid gone (or
// reused: the start time differs) breaks it, and only one may: it renames the newest claim file of
// that token, `claim.<token>.<g>.<pid>`, to `claim.<token>.<g+1>.<own pid>`; a rename of one name
// succeeds once, so two breakers cannot both win, and a breaker that dies too is broken the same
// way at the next generation. The winner logs the dead holder's intent as a change (its write
// may or may not have landed: a spare change only makes readers look again, a missing one would
// leave them stale), then removes the lock. A live holder is never broken, however long it takes.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import path from 'node:path';
import { StoreError } from '../errors';
import type { StoreChange } from './types';

interface LockContent {
  pid: number;
  /** the holder's start time from /proc (null where there is no /proc): tells a reused pid apart */
  start: string | null;
  token: string;
  /** ms since the epoch */
  at: number;
  /** the change the holder is about to make */
  intent: StoreChange | null;
}

const lockName = 'store.lock';
/** how long a write waits for a live holder before answering STORE_UNAVAILABLE */
const defaultWaitMs = 30_000;

function processStart(pid: number): string | null {
  try {
    const stat = fsSync.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may hold spaces) start at field 3; starttime is 22
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

const ownStart = processStart(process.pid);
/** tokens this process holds right now: a lock naming our pid but not one of these is a dead predecessor's */
const heldHere = new Set<string>();
/** one queue per lock folder: writers of one process take turns instead of polling the file */
const queues = new Map<string, Promise<unknown>>();

function alive(pid: number, start: string | null, token?: string): boolean {
  if (pid === process.pid) return token === undefined || heldHere.has(token);
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (start !== null) {
    const now = processStart(pid);
    if (now !== null && now !== start) return false;
  }
  return true;
}

async function readLock(file: string): Promise<LockContent | null> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as LockContent;
  } catch {
    return null; // released meanwhile (or unreadable: treated as held until it goes away)
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class StoreLock {
  readonly #dir: string;
  readonly #file: string;
  readonly #waitMs: number;
  /** logs the intent of a holder that died; runs while the dead holder's lock still excludes everyone */
  readonly #recover: (intent: StoreChange | null) => Promise<void>;

  constructor(dir: string, recover: (intent: StoreChange | null) => Promise<void>, options: { waitMs?: number } = {}) {
    this.#dir = dir;
    this.#file = path.join(dir, lockName);
    this.#recover = recover;
    this.#waitMs = options.waitMs ?? defaultWaitMs;
  }

  /** runs `work` holding the lock; `intent` is the change it is about to make */
  run<T>(intent: StoreChange | null, work: () => Promise<T>): Promise<T> {
    return this.#queued(async () => {
      const held = await this.#acquire(intent);
      try {
        return await work();
      } finally {
        await this.#release(held);
      }
    });
  }

  /** breaks the lock if its holder died; the feed's slow poll calls this so a dead writer's
   *  change reaches readers even when nobody writes after it */
  recoverStale(): Promise<boolean> {
    return this.#queued(async () => {
      const current = await readLock(this.#file);
      if (!current || alive(current.pid, current.start, current.token)) return false;
      return this.#breakStale(current);
    });
  }

  /** removes claim files of writers that died before linking them (at open) */
  async sweep(): Promise<void> {
    const current = await readLock(this.#file);
    for (const name of await fs.readdir(this.#dir).catch(() => [] as string[])) {
      const parts = name.split('.');
      if (parts[0] !== 'claim' || parts.length !== 4 || parts[1] === current?.token) continue;
      if (!alive(Number(parts[3]), null)) await fs.rm(path.join(this.#dir, name), { force: true });
    }
  }

  #queued<T>(fn: () => Promise<T>): Promise<T> {
    const previous = queues.get(this.#dir) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const settled = next.catch(() => {});
    queues.set(this.#dir, settled);
    void settled.then(() => {
      if (queues.get(this.#dir) === settled) queues.delete(this.#dir);
    });
    return next;
  }

  async #acquire(intent: StoreChange | null): Promise<{ token: string; claim: string }> {
    const token = randomBytes(8).toString('hex');
    const claim = path.join(this.#dir, `claim.${token}.0.${process.pid}`);
    const content: LockContent = { pid: process.pid, start: ownStart, token, at: Date.now(), intent };
    await fs.writeFile(claim, JSON.stringify(content), { mode: 0o600 });
    heldHere.add(token);
    const started = Date.now();
    let pause = 1;
    for (;;) {
      try {
        await fs.link(claim, this.#file);
        return { token, claim };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          heldHere.delete(token);
          await fs.rm(claim, { force: true });
          throw error;
        }
      }
      const current = await readLock(this.#file);
      if (current && !alive(current.pid, current.start, current.token) && (await this.#breakStale(current))) continue;
      if (Date.now() - started > this.#waitMs) {
        heldHere.delete(token);
        await fs.rm(claim, { force: true });
        const by = current ? `pid ${current.pid} since ${new Date(current.at).toISOString()}` : 'another process';
        throw new StoreError(
          'ISLET_STORE_UNAVAILABLE',
          `the store's write lock ${this.#file} is held by ${by}; gave up after ${this.#waitMs} ms`,
        );
      }
      await sleep(pause);
      pause = Math.min(pause * 2, 20);
    }
  }

  async #release(held: { token: string; claim: string }): Promise<void> {
    heldHere.delete(held.token);
    await fs.rm(this.#file, { force: true });
    await fs.rm(held.claim, { force: true });
  }

  /** true when this call broke the lock (the caller may take it now) */
  async #breakStale(dead: LockContent): Promise<boolean> {
    const prefix = `claim.${dead.token}.`;
    let newest: { generation: number; pid: number; name: string } | null = null;
    for (const name of await fs.readdir(this.#dir).catch(() => [] as string[])) {
      if (!name.startsWith(prefix)) continue;
      const [generation, pid] = name.slice(prefix.length).split('.').map(Number);
      if (generation === undefined || pid === undefined || Number.isNaN(generation)) continue;
      if (!newest || generation > newest.generation) newest = { generation, pid, name };
    }
    if (!newest) return false; // released (or broken) meanwhile
    // a breaker (generation > 0) that is still alive is doing the work: let it finish
    if (newest.generation > 0 && alive(newest.pid, null)) return false;
    const mine = path.join(this.#dir, `${prefix}${newest.generation + 1}.${process.pid}`);
    try {
      await fs.rename(path.join(this.#dir, newest.name), mine);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false; // another breaker won
      throw error;
    }
    // Only the breaker of this token removes this lock, and that is us: it still names the dead holder.
    const still = await readLock(this.#file);
    if (still?.token === dead.token) {
      await this.#recover(dead.intent);
      await fs.rm(this.#file, { force: true });
    }
    await fs.rm(mine, { force: true });
    return true;
  }
}
