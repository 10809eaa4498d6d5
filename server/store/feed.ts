// A change feed over any store's change log. The log is the truth; hints only say when to read
// it. A source (PostgreSQL: a LISTEN connection; the directory store: a stat of its log file)
// calls `hint` when something may have changed and `up` when its hint channel (re)connected; the
// feed then reads every change after the last one it delivered, page by page, and delivers them
// one at a time in revision order. It also re-reads on start and on a slow poll, so a lost hint,
// a dropped connection or a writer that died before its hint costs latency, never a change.
import type { ChangeFeed, LoggedChange } from './types';

export interface FeedHooks {
  /** something may have changed: read the log */
  hint(): void;
  /** the hint channel is (back) up: read the log, hints may have been missed while it was down */
  up(): void;
  /** the hint channel broke; the source reconnects by itself and calls `up` */
  down(error: Error): void;
}

export interface FeedSource {
  changesSince(revision: number, limit: number): Promise<LoggedChange[]>;
  /** starts hinting; `close` stops (and disconnects) */
  listen(hooks: FeedHooks): Promise<{ close(): Promise<void> }>;
}

export interface LogFeedOptions {
  from: number;
  pollMs?: number;
  pageSize?: number;
  /** a listener threw, or the log could not be read (the feed retries by itself) */
  onError?: (error: Error) => void;
}

type Listener = (change: LoggedChange) => void | Promise<void>;

/** after a failed read, the next try comes this soon (doubling up to the poll interval) */
const firstRetryMs = 100;

export class LogFeed implements ChangeFeed {
  readonly #source: FeedSource;
  readonly #pollMs: number;
  readonly #pageSize: number;
  readonly #onError: (error: Error) => void;
  readonly #listeners = new Set<Listener>();
  #waiters: { revision: number; resolve: (ok: boolean) => void; timer: NodeJS.Timeout }[] = [];
  #revision: number;
  #connected = false;
  #reconnects = 0;
  #catchUps = 0;
  #lastError: string | null = null;
  #pumping: Promise<void> | null = null;
  #again = false;
  #closed = false;
  #retryMs = firstRetryMs;
  #retry: NodeJS.Timeout | null = null;
  #poll: NodeJS.Timeout | null = null;
  #listening: { close(): Promise<void> } | null = null;

  constructor(source: FeedSource, options: LogFeedOptions) {
    this.#source = source;
    this.#revision = options.from;
    this.#pollMs = options.pollMs ?? 5000;
    this.#pageSize = options.pageSize ?? 1000;
    this.#onError = options.onError ?? (() => {});
  }

  get revision(): number {
    return this.#revision;
  }

  get connected(): boolean {
    return this.#connected;
  }

  onChange(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async start(): Promise<void> {
    this.#listening = await this.#source.listen({
      hint: () => void this.#pump(),
      up: () => {
        if (this.#connected) return;
        this.#connected = true;
        void this.#pump();
      },
      down: (error) => {
        if (this.#connected) this.#reconnects++;
        this.#connected = false;
        this.#lastError = error.message;
      },
    });
    if (this.#closed) {
      await this.#listening.close();
      return;
    }
    this.#poll = setInterval(() => void this.#pump(), this.#pollMs);
    this.#poll.unref();
    await this.#pump();
  }

  waitFor(revision: number, timeoutMs: number): Promise<boolean> {
    if (this.#revision >= revision) return Promise.resolve(true);
    if (this.#closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.timer !== timer);
        resolve(false);
      }, timeoutMs);
      this.#waiters.push({ revision, resolve, timer });
      void this.#pump();
    });
  }

  stats(): { revision: number; connected: boolean; reconnects: number; catchUps: number; lastError: string | null } {
    return {
      revision: this.#revision,
      connected: this.#connected,
      reconnects: this.#reconnects,
      catchUps: this.#catchUps,
      lastError: this.#lastError,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#poll) clearInterval(this.#poll);
    if (this.#retry) clearTimeout(this.#retry);
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(false);
    }
    this.#waiters = [];
    await this.#pumping?.catch(() => {});
    await this.#listening?.close();
  }

  /** reads and delivers; a call while a read runs makes that read go round once more */
  #pump(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#pumping) {
      this.#again = true;
      return this.#pumping;
    }
    this.#pumping = this.#drain().finally(() => {
      this.#pumping = null;
    });
    return this.#pumping;
  }

  async #drain(): Promise<void> {
    do {
      this.#again = false;
      try {
        for (;;) {
          const page = await this.#source.changesSince(this.#revision, this.#pageSize);
          for (const change of page) {
            if (this.#closed) return;
            if (change.revision <= this.#revision) continue;
            await this.#deliver(change);
            this.#revision = change.revision;
            this.#settleWaiters();
          }
          if (page.length < this.#pageSize) break;
        }
        this.#catchUps++;
        this.#retryMs = firstRetryMs;
      } catch (error) {
        this.#lastError = (error as Error).message;
        this.#onError(error as Error);
        this.#scheduleRetry();
        return;
      }
    } while (this.#again && !this.#closed);
  }

  async #deliver(change: LoggedChange): Promise<void> {
    for (const listener of [...this.#listeners]) {
      try {
        await listener(change);
      } catch (error) {
        // one listener's failure must not keep the change from the others, nor stop the feed
        this.#onError(error as Error);
      }
    }
  }

  #settleWaiters(): void {
    if (this.#waiters.length === 0) return;
    const done = this.#waiters.filter((w) => w.revision <= this.#revision);
    this.#waiters = this.#waiters.filter((w) => w.revision > this.#revision);
    for (const waiter of done) {
      clearTimeout(waiter.timer);
      waiter.resolve(true);
    }
  }

  #scheduleRetry(): void {
    if (this.#retry || this.#closed) return;
    const wait = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, this.#pollMs);
    this.#retry = setTimeout(() => {
      this.#retry = null;
      void this.#pump();
    }, wait);
    this.#retry.unref();
  }
}

/** The feeds a store opened, so that closing the store closes them (and their connections). */
export class OpenFeeds {
  readonly #feeds = new Set<ChangeFeed>();

  /** opens a feed on `source` that this set tracks until it is closed */
  open(source: FeedSource, options: LogFeedOptions): ChangeFeed {
    const feed = new LogFeed(source, options);
    this.#feeds.add(feed);
    const close = feed.close.bind(feed);
    feed.close = async () => {
      this.#feeds.delete(feed);
      await close();
    };
    return feed;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#feeds].map((feed) => feed.close()));
  }
}
