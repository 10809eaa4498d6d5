// The isolate pool: at most one live isolate per tenant state (active deployment + env +
// limits), reused by every request, kept in an LRU so the least recently used is retired when
// the count bound is reached. A periodic sweep samples heap sizes, retires isolates idle past
// the idle timeout, and retires least recently used idle isolates while the total memory is
// over its bound. Retired isolates drain: they finish in-flight requests, then are disposed.
// Isolates that keep dying (failed starts, memory kills) back their tenant off (backoff.ts).
import { LRUCache } from 'lru-cache';
import { Backoff } from './backoff';
import { ConcurrencyLimitError } from '../errors';
import type { EvictionReason, IsolateSample } from './observer';
import type { TenantState } from './directory';
import { TenantIsolate, type IsolateDeps } from './tenant-isolate';
import type { CreateSandbox } from './sandbox-api';
import { defaultCreateSandbox } from './sandbox-api';
import type { CpuProfile, CpuProfilerOptions } from '../host/isolate-api';

/** A profile of one of a tenant's isolates (observe/profiles/). */
export interface IsolateProfile {
  deployment: string;
  profile: CpuProfile;
}

export class IsolatePool {
  readonly #deps: IsolateDeps;
  readonly #lru: LRUCache<string, TenantIsolate>;
  /** current isolate of each tenant */
  readonly #byTenant = new Map<string, TenantIsolate>();
  /** retired isolates still finishing requests */
  readonly #draining = new Set<TenantIsolate>();
  readonly #backoff: Backoff;
  /** tenant -> its running CPU profiles: title -> options, and the isolates each was started on */
  readonly #profiles = new Map<string, Map<string, { options: CpuProfilerOptions; on: Set<TenantIsolate> }>>();
  #timer?: NodeJS.Timeout;
  #sweeping = false;
  #closing = false;

  constructor(deps: Omit<IsolateDeps, 'createSandbox'> & { createSandbox?: CreateSandbox }) {
    this.#deps = { ...deps, createSandbox: deps.createSandbox ?? ((iso, opts) => defaultCreateSandbox()(iso, opts)) };
    const { backoffAfter, backoffBaseMs, backoffMaxMs } = deps.config.pool;
    this.#backoff = new Backoff({
      after: backoffAfter ?? 3,
      baseMs: backoffBaseMs ?? 1000,
      maxMs: backoffMaxMs ?? 60_000,
    });
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
      const verdict = this.#backoff.verdict(state.tenant, state.manifest.id);
      if (verdict) throw 'replay' in verdict ? verdict.replay : verdict.wait;
      const current = this.#byTenant.get(state.tenant);
      if (current && current.version > state.version && !current.retiredFor) {
        entry = current; // a request that read the tenant just before a change: serve it with the newer isolate
      } else {
        if (current) this.retire(current, 'redeploy');
        entry = new TenantIsolate(state, this.#deps);
        // a profile of the tenant that runs covers its new isolate too (a redeploy or idle restart)
        for (const [title, run] of this.#profiles.get(state.tenant) ?? [])
          if (entry.startProfile(title, run.options)) run.on.add(entry);
        this.#lru.set(key, entry);
        this.#byTenant.set(state.tenant, entry);
        const started = entry;
        started.started.catch((error) => {
          this.#died(started, error);
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

  /** A request on `entry` completed and the isolate lives on: its tenant's streak of deaths is over. */
  served(entry: TenantIsolate): void {
    this.#backoff.lived(entry.tenant);
  }

  /**
   * Starts CPU profile `title` on every live isolate of `tenant` (current and draining) and on
   * any it gets before endProfile: the tenant's code is sampled wherever it runs in this process.
   */
  beginProfile(tenant: string, title: string, options: CpuProfilerOptions): void {
    let runs = this.#profiles.get(tenant);
    if (!runs) this.#profiles.set(tenant, (runs = new Map()));
    const run = { options, on: new Set<TenantIsolate>() };
    runs.set(title, run);
    for (const entry of [...this.#lru.values(), ...this.#draining])
      if (entry.tenant === tenant && !entry.disposed && entry.startProfile(title, options)) run.on.add(entry);
  }

  /** Stops profile `title` of `tenant`: one profile per isolate it ran on and that is still there. */
  async endProfile(tenant: string, title: string): Promise<IsolateProfile[]> {
    const runs = this.#profiles.get(tenant);
    const run = runs?.get(title);
    runs?.delete(title);
    if (runs?.size === 0) this.#profiles.delete(tenant);
    if (!run) return [];
    const stopped = await Promise.all(
      [...run.on].map(async (entry) => ({ deployment: entry.deployment, profile: await entry.stopProfile(title) })),
    );
    return stopped.filter((s): s is IsolateProfile => s.profile !== null);
  }

  /** The tenant's current isolate, if it has one (islet dev --inspect attaches DevTools to it). */
  current(tenant: string): TenantIsolate | undefined {
    return this.#byTenant.get(tenant);
  }

  /** Retires an isolate (redeploy, memory kill...): it takes no new requests and is disposed once drained. */
  retire(entry: TenantIsolate, reason: EvictionReason): void {
    if (entry.retiredFor) return;
    if (reason === 'killed' && entry.ready) this.#died(entry, null);
    entry.retiredFor = reason;
    const key = `${entry.tenant}\u0000${entry.version}`;
    if (this.#lru.get(key, { updateAgeOnGet: false }) === entry)
      this.#lru.delete(key); // -> #retired via dispose
    else this.#retired(entry, reason);
  }

  /** an isolate of the tenant died (`error`: its failed start; null: killed over a limit) */
  #died(entry: TenantIsolate, error: unknown): void {
    const backoffMs = this.#backoff.died(entry.tenant, entry.deployment, error);
    if (backoffMs === 0) return;
    this.#deps.observer.backoff?.(entry.tenant);
    this.#deps.logger.warn('tenant backed off', {
      tenant: entry.tenant,
      deployment: entry.deployment,
      backoffMs,
      cause:
        error === null ? 'isolate killed over a limit' : ((error as Error)?.message ?? String(error)).slice(0, 300),
    });
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
      this.#backoff.sweep();
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
