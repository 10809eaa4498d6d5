// One tenant deployment's isolate, from cold start to disposal. The pool decides when to make
// and retire these; this class does the work and keeps the counts that decide it: requests in
// flight and open WebSockets (a retired isolate is disposed only once both are gone, so a
// redeploy drops nothing until its drain time runs out), last use (idle eviction), sampled heap
// size (memory pressure), and CPU/wall time already reported to the observer (so each report is
// an exact delta of the addon's counters).
import cluster from 'node:cluster';
import fs from 'node:fs';
import type { Config, Limits } from '../config';
import { SandboxDisposedError } from '../errors';
import type { Logger } from '../observe/server-log';
import type { DeploymentStore } from '../store/types';
import {
  v8Version,
  type CpuProfile,
  type CpuProfilerOptions,
  type InspectorSession,
  type Isolate,
} from '../host/isolate-api';
import { createTenantIsolate } from '../host/bootstrap-snapshot';
import type { CreateSandbox, Dispatch, RequestLimits, Sandbox, SandboxRequest, SocketHooks } from '../host/types';
import type { BindingHost } from '../bindings/host';
import type { TenantLogSink } from './log-sink';
import type { TenantObserver, EvictionReason, IsolateState } from './observer';
import { loadDeployment, type ModuleSource } from './loader';
import type { TenantState } from './directory';
import type { TenantWebSockets } from './web-sockets';

export interface IsolateDeps {
  config: Config;
  store: DeploymentStore;
  observer: TenantObserver;
  logger: Logger;
  logs: TenantLogSink;
  createSandbox: CreateSandbox;
  /** the process's WebSocket budgets per tenant (absent: each sandbox counts its own) */
  webSockets?: TenantWebSockets;
  /** the node's binding services (KV, cache, services); absent: the tenant's isolates get no bindings */
  bindings?: BindingHost;
  /** islet dev --inspect: every isolate gets a V8 inspector (never in islet serve) */
  inspector?: boolean;
}

/** Deployment files and code caches from the store; cache writes are fire-and-forget. */
export function storeSource(store: DeploymentStore, tenant: string, deployment: string, logger: Logger): ModuleSource {
  return {
    read: (p) => store.readFile(tenant, deployment, p),
    readCache: (p) => store.readCodeCache(tenant, deployment, p, v8Version),
    writeCache: (p, data) => {
      store
        .writeCodeCache(tenant, deployment, p, v8Version, data)
        .catch((err: Error) =>
          logger.warn('storing code cache failed', { tenant, deployment, path: p, error: err.message }),
        );
    },
  };
}

export class TenantIsolate {
  readonly tenant: string;
  readonly deployment: string;
  readonly version: number;
  /** the tenant's limits; the sandbox enforces their per-request part (config.ts RequestLimits) */
  readonly limits: Limits;
  /** settles when the cold start finished (rejects with DeploymentLoadError) */
  readonly started: Promise<void>;
  state: IsolateState = 'starting';
  inFlight = 0;
  /** WebSockets open in this isolate (each keeps it from being evicted or disposed by a drain) */
  openWebSockets = 0;
  lastUsed = Date.now();
  heapUsedBytes = 0;
  externalBytes = 0;
  /** why it was retired, once it was */
  retiredFor?: EvictionReason;
  /** called once the isolate is disposed (the pool stops tracking a draining isolate) */
  onDisposed?: () => void;
  #isolate?: Isolate;
  #sandbox?: Sandbox;
  #disposed = false;
  #cpuReported = 0n;
  #wallReported = 0n;
  #drainTimer?: NodeJS.Timeout;
  readonly #deps: IsolateDeps;

  constructor(state: TenantState, deps: IsolateDeps) {
    this.tenant = state.tenant;
    this.deployment = state.manifest.id;
    this.version = state.version;
    this.limits = state.limits;
    this.#deps = deps;
    this.started = this.#start(state);
    this.started.catch(() => {}); // awaited by requests; an unobserved failure must not crash the process
  }

  async #start(state: TenantState): Promise<void> {
    const { config, store, observer, logger, createSandbox } = this.#deps;
    const began = process.hrtime.bigint();
    // from the shim bootstrap's startup snapshot when the process has one (host/bootstrap-snapshot.ts)
    const isolate = createTenantIsolate(
      {
        memoryLimit: state.limits.memoryMb,
        // the addon's stuck-run line names the isolate by it (cluster/worker-death.ts reads it)
        label: `tenant:${this.tenant}`,
        // Atomics.wait sleeps the serving thread without using CPU: no CPU limit would end it, and
        // every other tenant of this process would wait too
        allowAtomicsWait: false,
        ...(this.#deps.inspector ? { inspector: true } : {}),
        onCatastrophicError: (message) => {
          logger.error('isolate lost control (V8 catastrophic error): this process should be replaced', {
            tenant: this.tenant,
            deployment: this.deployment,
            message,
          });
          // V8 is in an undefined state: under the supervisor, die now and let it replace this
          // worker rather than serve from a broken heap. The line on stderr names the tenant for
          // the supervisor's death report (cluster/worker-death.ts), whatever else was running.
          if (cluster.isWorker) {
            try {
              fs.writeSync(
                2,
                `islet: aborting after a V8 catastrophic error in an isolate of tenant '${this.tenant}'\n`,
              );
            } finally {
              process.abort();
            }
          }
        },
      },
      (message, details) => logger.warn(message, details),
    );
    this.#isolate = isolate;
    try {
      const sandbox = await createSandbox(isolate, {
        tenant: this.tenant,
        deployment: this.deployment,
        env: state.env,
        limits: state.limits,
        egress: config.egress,
        log: (record) => this.#deps.logs.tenantLog(record),
        onSubrequest: (status) => observer.subrequest(this.tenant, status),
        webSockets: this.#socketHooks(state),
        bindings: this.#deps.bindings?.forTenant(this.tenant, state.bindings, state.limits),
        inspector: this.#deps.inspector,
      });
      this.#sandbox = sandbox;
      await loadDeployment(isolate, sandbox, state.manifest, storeSource(store, this.tenant, this.deployment, logger), {
        startupTimeoutMs: config.pool.startupTimeoutMs,
        startupCpuMs: state.limits.startupCpuMs,
        onCodeCache: (result) => observer.codeCache(result),
      });
    } catch (err) {
      this.#chargeStartup();
      this.dispose();
      throw err;
    }
    this.#chargeStartup();
    if (this.#disposed) throw new SandboxDisposedError('the isolate was disposed during its cold start');
    if (this.state === 'starting') this.state = 'warm';
    observer.coldStart(this.tenant, Number(process.hrtime.bigint() - began) / 1e9);
    this.reportTime(); // start-up time counts for the tenant too
  }

  /**
   * The CPU the start used in the isolate (bootstrap, compiling, top-level code: the addon counts
   * it, and keeps the count readable after V8 killed the isolate), charged to the tenant whether
   * the start succeeded or not.
   */
  #chargeStartup(): void {
    try {
      const cpu = this.#isolate?.cpuTime;
      if (cpu !== undefined && cpu > 0n) this.#deps.observer.startupCpu?.(this.tenant, Number(cpu) / 1e9);
    } catch {
      // an isolate that cannot say: nothing to charge
    }
  }

  #socketHooks(state: TenantState): SocketHooks | undefined {
    const webSockets = this.#deps.webSockets;
    if (!webSockets) return undefined;
    return {
      budget: webSockets.budgetFor(this.tenant, state.limits),
      openChanged: (open) => {
        this.openWebSockets = open;
        this.lastUsed = Date.now();
        // not from inside the sandbox's own bookkeeping: once it has returned
        if (open === 0) queueMicrotask(() => !this.busy && this.state === 'draining' && this.dispose());
      },
      cut: (error, requestId) => {
        // a WebSocket session's cut: its request was accounted at the 101, so report it here
        this.#deps.observer.limitExceeded(this.tenant, error.limit);
        this.#deps.logs.limitExceeded({
          tenant: this.tenant,
          deployment: this.deployment,
          requestId,
          limit: error.limit,
          measured: error.measured,
          stack: error.tenantStack,
        });
      },
    };
  }

  /** requests in flight or WebSockets open */
  get busy(): boolean {
    return this.inFlight > 0 || this.openWebSockets > 0;
  }

  /**
   * Closes this isolate's WebSockets with `code` (1001 shutdown, 1012 restart), their close
   * handlers running; bounded by `timeoutMs`.
   */
  closeWebSockets(code: number, reason: string, timeoutMs: number): Promise<void> {
    if (!this.#sandbox || this.#disposed || this.openWebSockets === 0) return Promise.resolve();
    return this.#sandbox.closeWebSockets?.(code, reason, timeoutMs) ?? Promise.resolve();
  }

  get ready(): boolean {
    return this.#sandbox !== undefined && this.state !== 'starting';
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** the isolate is gone although this object was not disposed (V8 killed it over its memory limit) */
  get isolateGone(): boolean {
    return !this.#disposed && this.#isolate?.isDisposed === true;
  }

  /**
   * Runs one request; the caller has already counted it in `inFlight` (pool.acquire) and calls
   * release() once `done` settles.
   */
  dispatch(request: SandboxRequest, limits?: RequestLimits): Dispatch {
    if (!this.#sandbox || this.#disposed) throw new SandboxDisposedError('the isolate is disposed');
    return this.#sandbox.dispatch(request, limits);
  }

  /** One request (or a failed attempt at one) is over. */
  release(): void {
    this.inFlight--;
    this.lastUsed = Date.now();
    if (!this.busy && this.state === 'draining') this.dispose();
  }

  /**
   * Reports CPU/wall consumed since the last report (exact deltas of the addon's counters). Called
   * by the pool's sweep and at disposal rather than per request: the totals are exact either way,
   * and the hot path skips two counter reads and a metrics update.
   */
  reportTime(): void {
    const isolate = this.#isolate;
    if (!isolate || this.#disposed) return;
    let cpu: bigint, wall: bigint;
    try {
      cpu = isolate.cpuTime;
      wall = isolate.wallTime;
    } catch {
      return; // disposed under us (memory kill)
    }
    const dCpu = cpu - this.#cpuReported;
    const dWall = wall - this.#wallReported;
    if (dCpu <= 0n && dWall <= 0n) return;
    this.#cpuReported = cpu;
    this.#wallReported = wall;
    this.#deps.observer.isolateTime(this.tenant, Number(dCpu) / 1e9, Number(dWall) / 1e9);
  }

  async sampleHeap(): Promise<void> {
    if (!this.#isolate || this.#disposed || this.state === 'starting') return;
    try {
      const stats = await this.#isolate.getHeapStatistics();
      this.heapUsedBytes = stats.used_heap_size;
      this.externalBytes = stats.externally_allocated_size ?? 0;
    } catch {
      // disposed between the check and the call: nothing to sample
    }
  }

  /**
   * Starts a CPU profile of this isolate titled `title` (the addon samples it on whichever thread
   * runs it). False when the isolate is gone or the addon refused (16 profiles already run).
   */
  startProfile(title: string, options: CpuProfilerOptions): boolean {
    if (!this.#isolate || this.#disposed || this.#isolate.isDisposed) return false;
    try {
      this.#isolate.startCpuProfiler(title, options);
      return true;
    } catch {
      return false;
    }
  }

  /** A DevTools protocol session with this isolate's inspector (islet dev --inspect); null when gone. */
  createInspectorSession(): InspectorSession | null {
    if (!this.#isolate || this.#disposed || this.#isolate.isDisposed || !this.#deps.inspector) return null;
    return this.#isolate.createInspectorSession();
  }

  /** Stops profile `title`: the merged profile, or null when the isolate went away meanwhile. */
  async stopProfile(title: string): Promise<CpuProfile | null> {
    if (!this.#isolate || this.#isolate.isDisposed) return null;
    try {
      const entries = await this.#isolate.stopCpuProfiler(title);
      return entries[0]?.profile ?? null;
    } catch {
      return null;
    }
  }

  /** Stops taking requests; disposes now when idle, else when the last in-flight request ends (bounded by drainMs). */
  retire(reason: EvictionReason, drainMs: number): void {
    if (this.retiredFor) return;
    this.retiredFor = reason;
    if (this.#disposed) return; // a failed cold start: nothing was serving, nothing to report
    this.state = 'draining';
    this.#deps.observer.eviction(reason);
    this.#deps.logger.info('isolate retired', {
      tenant: this.tenant,
      deployment: this.deployment,
      reason,
      inFlight: this.inFlight,
      webSockets: this.openWebSockets,
    });
    if (!this.busy || reason === 'killed') this.dispose();
    else {
      this.#drainTimer = setTimeout(() => this.dispose(), drainMs);
      this.#drainTimer.unref();
    }
  }

  dispose(): void {
    if (this.#disposed) return;
    this.reportTime();
    this.#disposed = true;
    this.state = 'draining';
    clearTimeout(this.#drainTimer);
    try {
      this.#sandbox?.dispose();
    } catch {
      // the isolate may already be gone (memory kill); disposing it below is what matters
    }
    try {
      if (this.#isolate && !this.#isolate.isDisposed) this.#isolate.dispose();
    } catch {
      // already disposed
    }
    this.onDisposed?.();
  }
}
