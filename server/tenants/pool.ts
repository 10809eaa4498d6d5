// The isolate pool: at most one live isolate per tenant state (active deployment + env +
// limits), reused by every request, kept in an LRU so the least recently used is retired when
// the count bound is reached. A periodic sweep samples heap sizes, retires isolates idle past
// the idle timeout, and retires least recently used idle isolates while the total memory is
// over its bound. Retired isolates drain: they finish in-flight requests, then are disposed.
import { LRUCache } from 'lru-cache';
import { ConcurrencyLimitError } from '../errors';
import type { EvictionReason, IsolateSample } from './observer';
import type { TenantState } from './directory';
import { TenantIsolate, type IsolateDeps } from './tenant-isolate';
import type { CreateSandbox } from './sandbox-api';
import { defaultCreateSandbox } from './sandbox-api';

/**
 * A failed cold start is remembered this long, so a broken deployment costs one start per
 * window, not one per request.
 */
const FAILURE_BACKOFF_MS = 1000;

export class IsolatePool {
  readonly #deps: IsolateDeps;
  readonly #lru: LRUCache<string, TenantIsolate>;
  /** current isolate of each tenant */
  readonly #byTenant = new Map<string, TenantIsolate>();
  /** retired isolates still finishing requests */
  readonly #draining = new Set<TenantIsolate>();
  readonly #failures = new Map<string, { error: unknown; until: number }>();
  #timer?: NodeJS.Timeout;
  #sweeping = false;
  #closing = false;

  constructor(deps: Omit<IsolateDeps, 'createSandbox'> & { createSandbox?: CreateSandbox }) {
    this.#deps = { ...deps, createSandbox: deps.createSandbox ?? ((iso, opts) => defaultCreateSandbox()(iso, opts)) };
    this.#lru = new LRUCache<string, TenantIsolate>({
      max: deps.config.pool.maxIsolates,
      // lru-cache calls this when the count bound pushes an entry out ('evict') or we delete one.
      dispose: (entry, _key, reason) =>
        this.#retired(entry, reason === 'evict' ? 'count' : (entry.retiredFor ?? 'killed')),
    });
    deps.observer.setIsolateSource(() => this.samples());
    // a scrape sees isolate time up to the moment it was taken, not as of the last sweep
    deps.observer.setTimeReporter(() => {
      for (const entry of this.#lru.values()) entry.reportTime();
    });
  }

  /** Starts the sweep timer (idle and memory bounds). */
  start(): void {
    this.#timer = setInterval(() => void this.sweep(), this.#deps.config.pool.sampleIntervalS * 1000);
    this.#timer.unref();
  }

  get size(): number {
    return this.#lru.size;
  }

  /**
   * The isolate for `state`, counted as busy (inFlight + 1): the caller must call release() on it
   * when the request is over, even when it fails. Not yet started when `ready` is false: await
   * `started` (a cold start). Throws ConcurrencyLimitError, or a remembered cold-start failure.
   */
  acquire(state: TenantState): TenantIsolate {
    const key = `${state.tenant}\u0000${state.version}`;
    let entry = this.#lru.get(key);
    if (entry?.isolateGone) {
      // V8 disposed it (memory kill) before the request that hit the limit got to retire it
      this.retire(entry, 'killed');
      entry = undefined;
    }
    if (!entry) {
      const failure = this.#failures.get(key);
      if (failure && failure.until > Date.now()) throw failure.error;
      const current = this.#byTenant.get(state.tenant);
      if (current && current.version > state.version && !current.retiredFor) {
        entry = current; // a request that read the tenant just before a change: serve it with the newer isolate
      } else {
        if (current) this.retire(current, 'redeploy');
        entry = new TenantIsolate(state, this.#deps);
        this.#lru.set(key, entry);
        this.#byTenant.set(state.tenant, entry);
        const started = entry;
        started.started.catch((error) => {
          this.#failures.set(key, { error, until: Date.now() + FAILURE_BACKOFF_MS });
          if (this.#lru.get(key, { updateAgeOnGet: false }) === started) {
            started.retiredFor = 'killed';
            this.#lru.delete(key);
          }
        });
      }
    }
    if (entry.inFlight >= entry.limits.concurrency)
      throw new ConcurrencyLimitError(state.tenant, entry.limits.concurrency);
    entry.inFlight++;
    return entry;
  }

  /** Retires an isolate (redeploy, memory kill...): it takes no new requests and is disposed once drained. */
  retire(entry: TenantIsolate, reason: EvictionReason): void {
    if (entry.retiredFor) return;
    entry.retiredFor = reason;
    const key = `${entry.tenant}\u0000${entry.version}`;
    if (this.#lru.get(key, { updateAgeOnGet: false }) === entry)
      this.#lru.delete(key); // -> #retired via dispose
    else this.#retired(entry, reason);
  }

  /** Retires the current isolate of a tenant (its deployment, env or limits changed, or it was removed). */
  retireTenant(tenant: string, reason: EvictionReason = 'redeploy'): void {
    const current = this.#byTenant.get(tenant);
    if (current) this.retire(current, reason);
  }

  #retired(entry: TenantIsolate, reason: EvictionReason): void {
    if (this.#closing) return;
    if (this.#byTenant.get(entry.tenant) === entry) this.#byTenant.delete(entry.tenant);
    // TenantIsolate.retire reports the eviction once; clear the mark set above so it runs.
    entry.retiredFor = undefined;
    entry.retire(reason, this.#deps.config.pool.drainTimeoutMs);
    if (!entry.disposed) {
      this.#draining.add(entry);
      entry.onDisposed = () => this.#draining.delete(entry);
    }
  }

  /** Samples heap sizes and applies the idle and total-memory bounds. */
  async sweep(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      const { idleTimeoutS, maxMemoryMb } = this.#deps.config.pool;
      const now = Date.now();
      for (const [key, failure] of this.#failures) if (failure.until <= now) this.#failures.delete(key);
      const entries = [...this.#lru.values()];
      for (const entry of entries) {
        if (!entry.busy && entry.ready && now - entry.lastUsed > idleTimeoutS * 1000) this.retire(entry, 'idle');
      }
      const live = [...this.#lru.values()];
      await Promise.all(live.map((e) => e.sampleHeap()));
      for (const e of live) e.reportTime();
      let total = live.reduce((sum, e) => sum + e.heapUsedBytes + e.externalBytes, 0);
      const budget = maxMemoryMb * 1024 * 1024;
      if (total > budget) {
        // rvalues(): least recently used first; busy isolates are skipped (they drain on their own).
        for (const entry of [...this.#lru.rvalues()] as TenantIsolate[]) {
          if (total <= budget) break;
          if (entry.busy) continue;
          total -= entry.heapUsedBytes + entry.externalBytes;
          this.retire(entry, 'memory_pressure');
        }
      }
    } finally {
      this.#sweeping = false;
    }
  }

  samples(): IsolateSample[] {
    const out: IsolateSample[] = [];
    for (const e of this.#lru.values())
      out.push({ tenant: e.tenant, state: e.state, heapUsedBytes: e.heapUsedBytes, externalBytes: e.externalBytes });
    for (const e of this.#draining)
      if (!e.disposed)
        out.push({
          tenant: e.tenant,
          state: 'draining',
          heapUsedBytes: e.heapUsedBytes,
          externalBytes: e.externalBytes,
        });
    return out;
  }

  /**
   * Closes every isolate's WebSockets with `code` (1001 shutdown, 1012 worker restart), their
   * close handlers running; resolves when they are closed or after `timeoutMs`.
   */
  async closeWebSockets(code: number, reason: string, timeoutMs: number): Promise<void> {
    const entries = [...this.#lru.values(), ...this.#draining];
    await Promise.all(entries.map((entry) => entry.closeWebSockets(code, reason, timeoutMs)));
  }

  /** Disposes every isolate (shutdown: the front server has already drained its requests). */
  close(): void {
    clearInterval(this.#timer);
    this.#closing = true;
    for (const entry of [...this.#lru.values(), ...this.#draining]) entry.dispose();
    this.#lru.clear();
    this.#byTenant.clear();
    this.#draining.clear();
  }
}
