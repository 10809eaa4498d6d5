// The part of native/'s isolate API the tenant layer uses, typed in one place. native/ is loaded
// by a relative require of the `native` folder so that `-r scripts/reference-isolate.js` can swap
// in the reference library; everything below is the public isolate API (reference/isolate-api.md)
// plus islet's extensions (error `code`s, `isolateStack`).

export interface ExternalCopy<T = unknown> {
  copy(): T;
  release(): void;
}

export interface Reference {
  typeof: string;
  get(property: string, options?: object): Promise<Reference | unknown>;
  getSync(property: string, options?: object): Reference | unknown;
  release(): void;
}

export interface Context {
  global: Reference;
  release(): void;
}

export interface CachedDataResult {
  cachedData?: ExternalCopy<ArrayBuffer>;
  cachedDataRejected?: boolean;
}

export interface Module extends CachedDataResult {
  dependencySpecifiers: string[];
  namespace: Reference;
  instantiate(context: Context, resolve: (specifier: string, referrer: Module) => Module | Promise<Module>): Promise<void>;
  instantiateSync(context: Context, resolve: (specifier: string, referrer: Module) => Module): void;
  evaluate(options?: { timeout?: number }): Promise<unknown>;
  release(): void;
}

export interface Script extends CachedDataResult {
  run(context: Context, options?: { timeout?: number; release?: boolean }): Promise<unknown>;
  release(): void;
}

export interface CompileOptions {
  filename?: string;
  cachedData?: ExternalCopy<ArrayBuffer>;
  produceCachedData?: boolean;
}

export interface HeapStatistics {
  used_heap_size: number;
  total_heap_size: number;
  heap_size_limit: number;
  externally_allocated_size: number;
}

export interface Isolate {
  readonly isDisposed: boolean;
  readonly cpuTime: bigint;
  readonly wallTime: bigint;
  compileModule(code: string, options?: CompileOptions): Promise<Module>;
  compileModuleSync(code: string, options?: CompileOptions): Module;
  compileScript(code: string, options?: CompileOptions): Promise<Script>;
  compileScriptSync(code: string, options?: CompileOptions): Script;
  createContext(options?: object): Promise<Context>;
  createContextSync(options?: object): Context;
  getHeapStatistics(): Promise<HeapStatistics>;
  getHeapStatisticsSync(): HeapStatistics;
  dispose(): void;
}

export interface IsolateApi {
  Isolate: new (options?: { memoryLimit?: number; allowAtomicsWait?: boolean; onCatastrophicError?: (message: string) => void }) => Isolate;
  ExternalCopy: new <T>(value: T, options?: object) => ExternalCopy<T>;
}

let api: IsolateApi | undefined;

/** native/ (or the reference library under the preload), loaded on first use. */
export function isolateApi(): IsolateApi {
  if (!api) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = require('../../native') as Partial<IsolateApi>;
    if (typeof loaded.Isolate !== 'function') {
      throw Object.assign(new Error('native/ does not export Isolate yet: build the addon (npm run build:native) or run with -r scripts/reference-isolate.js'), {
        code: 'ISLET_NATIVE_UNAVAILABLE',
      });
    }
    api = loaded as IsolateApi;
  }
  return api;
}

/** native/'s ledger of machine stops (see native/index.ts MachineStalls): totals since the process started. */
export interface MachineStalls {
  /** false when the stop detector cannot run here (no /proc/thread-self/schedstat) */
  detecting: boolean;
  count: number;
  totalNs: number;
  /** CPU time taken back from isolates that were charged for a stop */
  creditedNs: number;
}

/** The ledger, or null under a library without one (the reference library in comparisons). */
export function machineStalls(): MachineStalls | null {
  const read = (isolateApi() as { machineStalls?: () => MachineStalls }).machineStalls;
  return typeof read === 'function' ? read() : null;
}

/** Code caches are V8 machine code: valid only for the V8 that made them. */
export const v8Version = process.versions.v8;

/** What a failure from the isolate API says about the isolate (code first, message as fallback). */
export function isolateFailure(err: unknown): 'cpu' | 'wall' | 'memory' | 'disposed' | null {
  const e = err as { code?: string; message?: string } | null;
  switch (e?.code) {
    case 'ERR_ISOLATE_CPU_TIMEOUT':
      return 'cpu';
    case 'ERR_ISOLATE_TIMEOUT':
      return 'wall';
    case 'ERR_ISOLATE_MEMORY_LIMIT':
      return 'memory';
    case 'ERR_ISOLATE_DISPOSED':
    case 'ISLET_SANDBOX_DISPOSED':
      return 'disposed';
  }
  const message = typeof e?.message === 'string' ? e.message : '';
  if (message.includes('memory limit') || (err instanceof RangeError && message.includes('Array buffer allocation failed'))) return 'memory';
  if (message === 'Script execution timed out.') return 'wall';
  if (message === 'Isolate is disposed') return 'disposed';
  return null;
}
