// A sandbox is one tenant deployment's context inside an isolate, with the host side of the
// bridge the shims talk to. tenants/ owns the isolate and loads the deployment's code into
// `context`; the sandbox serves requests through it.
//
// The protocol: every entry into the isolate is a synchronous `applySync` on a function the
// bootstrap returned before any tenant code ran (server/bridge/ops.ts IsolateEntries), made from
// Node's thread with the request's remaining budgets as time limits (./entry.ts). The isolate
// calls the host through one bridge function, always synchronously, with an operation declared
// in server/bridge/ops.ts; the op table (server/bridge/table.ts) hands it to its handler here.
// Operations that take time (fetch, body reads, zlib, WebCrypto) return an op id at once and are
// completed by a later entry (./pending-ops.ts). Each entry's CPU time is charged to the request
// it serves, and a request past its budget is cut (./requests.ts ends requests).
//
// This class only assembles the parts, one per concern, and decides what an entry's failure
// means for the sandbox: requests (./requests.ts), timers (./timers.ts), console (./console.ts),
// host byte sources and isolate streams (./streams/), fetch (./subrequests.ts), compression
// (./compression.ts), crypto.subtle (./subtle.ts), values computed by Node (./values.ts), the
// tenant's bindings: KV, the Cache API, service bindings (server/bindings/ops.ts). Host
// work those parts do for the tenant is charged to it: pool jobs to the request's CPU
// (./host-work.ts), bytes kept on the host to the isolate's memory (./host-memory.ts).
// WebSockets live in ./websockets/.
import { TenantCodeError } from '../errors';
import { OpTable } from '../bridge/table';
import { bindingNames } from '../bindings/context';
import { bindingOps } from '../bindings/ops';
import { runBootstrap, hasBootstrapCache, produceBootstrapCache } from './bootstrap';
import { snapshotState } from './bootstrap-snapshot';
import { CompressionStreams } from './compression';
import { TenantConsole } from './console';
import { IsolateEntry } from './entry';
import { HostMemory } from './host-memory';
import { HostWork } from './host-work';
import { isolateApi, type Context, type Isolate, type IsolateFailure, type Reference } from './isolate-api';
import { PendingOps } from './pending-ops';
import { PromiseRejections } from './rejections';
import { Requests } from './requests';
import type { Caller, RequestRun } from './run';
import { BodyStreams } from './streams/bodies';
import { IsolateSinks } from './streams/sinks';
import { HostSources } from './streams/sources';
import { Subrequests } from './subrequests';
import { KeyTable } from './subtle';
import { TextDecoders } from './text-decoders';
import { ZlibSync } from './zlib-sync';
import { HostTimers } from './timers';
import type { Dispatch, RequestLimits, Sandbox, SandboxOptions, SandboxRequest } from './types';
import { valueOps } from './values';
import { HostWebSockets } from './websockets/sockets';

class IsletSandbox implements Sandbox {
  readonly context: Context;
  readonly #isolate: Isolate;
  readonly #options: SandboxOptions;
  readonly #entry: IsolateEntry;
  readonly #requests: Requests;
  readonly #console: TenantConsole;
  readonly #table: OpTable<Caller>;
  readonly #webSockets: HostWebSockets;
  /** the parts that hold things on the host, dropped with the sandbox */
  readonly #parts: readonly { dispose(): void }[];
  #disposed = false;

  constructor(isolate: Isolate, options: SandboxOptions, useCache = true) {
    this.#isolate = isolate;
    this.#options = options;
    // asyncContext: AsyncLocalStorage over V8's continuation-preserved data; promiseRejections: V8's
    // unhandled-rejection notifications (./rejections.ts); the bootstrap adopts both hooks; inspector:
    // islet dev --inspect announces the context to the isolate's inspector
    this.context = isolate.createContextSync({
      asyncContext: true,
      promiseRejections: true,
      ...(options.inspector ? { inspector: true } : {}),
    });
    const { Callback, ExternalCopy } = isolateApi();
    const install = runBootstrap(isolate, this.context, useCache);
    const bridge = new Callback((op: unknown, ...args: unknown[]) => this.#table.call(this.#entry.current, op, args));
    const env = new ExternalCopy({ ...options.env }).copyInto();
    // the names `env` gets binding objects for (KV namespaces, services): the objects are made in the isolate
    const names = new ExternalCopy(bindingNames(options.bindings)).copyInto();
    const api: Reference = install.applySync(undefined, [bridge, env, names], {
      result: { reference: true },
      timeout: 1000,
    });
    const rejections = new PromiseRejections(() => entry);
    const entry = new IsolateEntry(
      isolate,
      api,
      options.limits,
      {
        cut: (run, error) => this.#requests.cut(run, error),
        failed: (run, kind, error) => this.#entryFailed(run, kind, error),
        answered: (run, answer) => this.#requests.answered(run, answer),
        ended: () => {
          this.#requests.applyReported();
          rejections.afterEntry();
        },
      },
      options.tenant,
    );
    api.release();
    install.release();

    const memory = new HostMemory(isolate);
    const timers = new HostTimers(entry);
    const pending = new PendingOps(entry);
    const sources = new HostSources();
    const sinks = new IsolateSinks(entry, memory);
    const bodies = new BodyStreams(sources, sinks);
    const work = new HostWork({
      tenant: options.tenant,
      defaults: options.limits,
      cut: (run, error) => this.#requests.cut(run, error),
    });
    const compression = new CompressionStreams(work, memory);
    const keys = new KeyTable(work, memory);
    const textDecoders = new TextDecoders(memory);
    const zlibSync = new ZlibSync(memory);
    const subrequests = new Subrequests(options, { pending, sources, bodies, memory });
    const webSockets = new HostWebSockets(options, {
      entry,
      socketsChanged: (run) => this.#requests.socketsChanged(run),
    });
    this.#entry = entry;
    this.#webSockets = webSockets;
    this.#console = new TenantConsole(options);
    this.#requests = new Requests({
      entry,
      sources,
      bodies,
      resources: [timers, pending, work, sources, compression, sinks, webSockets],
      memoryKilled: () => this.#memoryKilled(),
      coupleWebSocket: (run, socket) => webSockets.couple(run, socket),
    });
    this.#parts = [
      timers,
      pending,
      work,
      sources,
      sinks,
      keys,
      compression,
      subrequests,
      textDecoders,
      memory,
      webSockets,
    ];
    this.#table = OpTable.of(
      (caller: Caller) => pending.start(caller),
      this.#requests.ops,
      this.#console.ops,
      timers.ops,
      pending.ops,
      sources.ops,
      sinks.ops,
      subrequests.ops,
      compression.ops,
      keys.ops,
      textDecoders.ops,
      rejections.ops,
      zlibSync.ops,
      valueOps,
      webSockets.ops,
      bindingOps(options.bindings, { sources, bodies }),
    );
  }

  get inFlight(): number {
    return this.#requests.size;
  }

  get openWebSockets(): number {
    return this.#webSockets.open;
  }

  closeWebSockets(code: number, reason: string, timeoutMs: number): Promise<void> {
    return this.#webSockets.closeAll(code, reason, timeoutMs);
  }

  bindModule(namespace: Reference): void {
    this.#entry.bind('bindModule', [namespace.derefInto()]);
  }

  bindScript(): void {
    this.#entry.bind('bindScript', []);
  }

  dispatch(request: SandboxRequest, limits: RequestLimits = this.#options.limits): Dispatch {
    return this.#requests.dispatch(request, limits);
  }

  /** an entry failed other than by a time limit (those cut their request in ./entry.ts) */
  #entryFailed(run: RequestRun | null, kind: IsolateFailure | null, error: Error & { isolateStack?: string }): void {
    if (kind === 'memory') {
      this.#memoryKilled();
    } else if (kind === 'disposed') {
      // disposed by its owner while a request was inside: not the tenant's doing
      this.dispose();
    } else if (!run) {
      this.#console.log(null, 'error', `islet: an entry outside any request failed: ${error.message}`);
    } else {
      // the shims catch every tenant exception, so this is a failure of the plumbing itself
      const message = `the request could not be handed to the isolate: ${error.message}`;
      this.#requests.fail(run, new TenantCodeError(message, error.isolateStack ?? error.stack));
    }
  }

  /** V8 disposed the isolate over its memory limit: every request in flight is cut for memory */
  #memoryKilled(): void {
    this.#webSockets.dispose(1011, 'the function exceeded its memory limit');
    this.#requests.cutAll('memory');
    this.#teardown();
  }

  #teardown(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#entry.close();
    for (const part of this.#parts) part.dispose();
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#teardown();
    this.#requests.abandonAll();
    if (this.#isolate.isDisposed) return;
    try {
      this.context.release();
    } catch {
      // the isolate went away meanwhile
    }
  }
}

/** the request the warm-up serves: the shims' request path, compiled once into the code cache */
const warmUpScript =
  "addEventListener('fetch', (e) => e.respondWith(new Response('warm ' + new URL(e.request.url).pathname + " +
  "e.request.headers.get('accept'), { headers: { 'content-type': 'text/plain' } })))";

/** once per process: run the bootstrap and one request in a scratch isolate, then cache the code */
function warmBootstrapCache(options: SandboxOptions): void {
  const isolate = new (isolateApi().Isolate)({ memoryLimit: 64 });
  try {
    const sandbox = new IsletSandbox(isolate, { ...options, env: {}, log() {}, onSubrequest: undefined }, false);
    try {
      // only the eager part and the request path: caching the lazy globals too was measured to
      // add ~0.2 ms to every cold start to save ~0.5 ms on a stream's first use
      sandbox.context.evalSync(warmUpScript);
      sandbox.bindScript();
      const headers = ['accept', '*/*'];
      const request = { id: 'warm-up', method: 'GET', url: 'http://warm.test/', headers, body: null };
      sandbox.dispatch(request).response.catch(() => {});
    } finally {
      sandbox.dispose();
    }
    produceBootstrapCache(isolate);
  } catch {
    // a cache is an optimisation: without one every isolate compiles the bootstrap itself
  } finally {
    isolate.dispose();
  }
}

/**
 * Produces the process's bootstrap code cache now (20-40 ms, once) instead of inside the first
 * createSandbox: a server can call it at start-up so no tenant's first request pays for it.
 */
export function warmUpSandboxes(options: SandboxOptions): void {
  if (!hasBootstrapCache()) warmBootstrapCache(options);
}

/** `tuning.codeCache: false` compiles the bootstrap without the process's code cache (benchmarks) */
export function createSandbox(
  isolate: Isolate,
  options: SandboxOptions,
  tuning: { codeCache?: boolean } = {},
): Sandbox {
  const useCache = tuning.codeCache !== false;
  // isolates made from the bootstrap snapshot compile nothing: the warm-up is for the fallback
  if (useCache && !hasBootstrapCache() && !snapshotState().used) warmBootstrapCache(options);
  return new IsletSandbox(isolate, options, useCache);
}
