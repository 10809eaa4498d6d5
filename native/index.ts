// islet's isolate addon: loads the compiled binding (native/build/Release/islet.node) and
// exports the isolate API (the reference library's API: see README) with full
// TypeScript types. A program written for the reference library (isolated-vm) runs against
// this module by changing only its `require`.
//
// Where islet deliberately differs from the reference library (README "Using the addon on its own"):
// - A sync call made from an isolate running on islet's thread pool (inside an async call) into
//   another non-default isolate throws ERR_ISOLATE_DEADLOCK: two pool threads doing that to each
//   other would wait forever. On Node's thread nested sync calls between isolates are allowed.
// - Node's thread never waits to enter an isolate whose pool thread is waiting for Node in
//   applySyncPromise (it would never get it): that sync call throws ERR_ISOLATE_DEADLOCK.
// - `cpuTime` is the CPU clock of the threads that ran the isolate (less than its wall time on a
//   loaded machine); `meta` of compileModule must be a function of the compiling isolate.
//
// islet extensions beyond the reference API (all optional, ignored by nothing else):
// - `cpuTimeout` (ms) wherever `timeout` is accepted: a budget on the CPU clock of the thread
//   executing the isolate, so CPU contention does not eat it. Whichever of `timeout` and
//   `cpuTimeout` fires first ends the run with `Error: Script execution timed out.`.
// - Errors carry stable codes in `error.code`: ERR_ISOLATE_TIMEOUT (wall), ERR_ISOLATE_CPU_TIMEOUT,
//   ERR_ISOLATE_MEMORY_LIMIT, ERR_ISOLATE_DISPOSED, ERR_ISOLATE_DEADLOCK, ERR_ISOLATE_RELEASED,
//   ERR_ISOLATE_NO_DYNAMIC_IMPORT.
// - An error that came out of an isolate carries `error.isolateStack`: the isolate's own frames
//   (`    at fn (file:line:col)` lines), apart from the caller's frames that `error.stack` adds
//   after `at (<isolated-vm boundary>)`; for a run cut by a time limit, where it was stopped.
// - `isolate.setDynamicImportResolver(resolve)`: makes `import()` inside the isolate work; the
//   same resolver as static imports (`(specifier, referrer) => Module | Promise<Module>`, where
//   `referrer` is the importing Module, or `{ filename }` for an import() in a script). The
//   module is instantiated and evaluated before the import() promise settles. Without a
//   resolver, `import()` rejects with code ERR_ISOLATE_NO_DYNAMIC_IMPORT.
// - `mapSharedFile(path, byteLength)`: an ArrayBuffer over a file mapped shared (a crash journal
//   another process reads after this one died).
// - `watchStuckIsolates(ms)` and the `label` isolate option: a process that can be lost ends itself
//   within `ms` when an isolate asked to stop (heap or time limit) cannot (see watchStuckIsolates).
// - CPU profiles (`startCpuProfiler(title, { samplingInterval?, maxSamples? })`): samples are
//   taken on whichever thread runs the isolate (Node's or the pool's), and the result is one
//   merged DevTools profile (see CpuProfileEntry).
// - `createContext({ promiseRejections: true })`: `__isletPromiseRejections(handler)` routes V8's
//   promise rejection notifications of the context to a handler (see ContextOptions).
// - `createContext({ asyncContext: true })`: code in the context gets `__isletAsyncContext`
//   ({ get, set }) over V8's continuation-preserved data, for an AsyncLocalStorage (see
//   AsyncContextHandle).
// - `Isolate.createSnapshot(scripts, warmup?, { inProcess?, timeout? })` makes the snapshot in a
//   child process unless `inProcess`; `new Isolate({ snapshot })` also takes the bytes (a file's
//   Buffer); snapshots of another V8 are refused with ERR_ISOLATE_SNAPSHOT_VERSION.
// - Inspector sessions may be answered synchronously from their callbacks while the isolate is
//   paused on Node's thread (see InspectorSession).
// - `machineStalls()`: the process's ledger of machine stops (a virtual machine paused by its
//   host without the guest seeing steal time). A thread running during a stop has the stop
//   added to its CPU clock; `cpuTimeout` and `isolate.cpuTime` leave out what the watchdog
//   credited back for such stops (and never count more CPU than wall time passed), so a tenant
//   is not cut for CPU it never used.
// - `isolate.cpuTime` (and `cpuTimeout`) include the time of synchronous callbacks into Node the
//   isolate makes (a Callback, a function passed in): that work runs on its thread, for it.
// - `isolate.adjustExternalMemory(bytes)`: memory the embedder holds outside V8 for the isolate
//   (negative to give it back). V8 schedules collection by it and it counts against the
//   isolate's memory limit with its ArrayBuffers; a charge that would leave the isolate less than
//   a sixteenth of its limit returns false and charges nothing.
// - `threadCpuTime()`: the CPU clock of the calling thread in ns (bigint).
import path from 'node:path';
import {
  checkSnapshotArguments,
  createSnapshotInChild,
  type CreateSnapshotOptions,
  type SnapshotScript,
} from './snapshot';

export type { CreateSnapshotOptions, SnapshotScript } from './snapshot';

// ---------------------------------------------------------------------------------------------
// Loading

const bindingFile = path.resolve(__dirname, '..', '..', 'native', 'build', 'Release', 'islet.node');

function loadBinding(): any {
  // ISLET_ADDON names another build of the same sources (the AddressSanitizer build of
  // `npm run build:native -- --asan`, see scripts/test-native-asan.js).
  const file = process.env.ISLET_ADDON ? path.resolve(process.env.ISLET_ADDON) : bindingFile;
  let binding: any;
  try {
    binding = require(file);
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    if (/NODE_MODULE_VERSION|different Node\.js version/.test(message)) {
      throw Object.assign(
        new Error(
          `islet's native addon (${file}) was built for another Node.js version than this one ` +
            `(${process.version}, NODE_MODULE_VERSION ${process.versions.modules}). ` +
            'Run `npm rebuild` or `npm install` to rebuild it.',
        ),
        { code: 'ERR_ISLET_ADDON_ABI', cause: error },
      );
    }
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
      const missing =
        `islet's native addon is not built (${file} is missing): ` + 'run `npm install` or `npm run build:native`.';
      throw Object.assign(new Error(missing), {
        code: 'ERR_ISLET_ADDON_MISSING',
        cause: error,
      });
    }
    throw error;
  }
  if (String(binding.nodeModuleVersion) !== process.versions.modules) {
    throw Object.assign(
      new Error(
        `islet's native addon was built for NODE_MODULE_VERSION ${binding.nodeModuleVersion} ` +
          `but this Node.js (${process.version}) ` +
          `is ${process.versions.modules}. Run \`npm rebuild\` or \`npm install\` to rebuild it.`,
      ),
      { code: 'ERR_ISLET_ADDON_ABI' },
    );
  }
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (!flags.includes('--no-node-snapshot')) {
    process.emitWarning(
      'Node.js was started without --no-node-snapshot: isolates created by islet may crash on some Node builds. ' +
        "islet's own entry points (bin/islet.js, npm test, npm run bench) pass it for you.",
      { type: 'IsletWarning', code: 'ISLET_NODE_SNAPSHOT' },
    );
  }
  return binding;
}

const binding = loadBinding();

/** The NODE_MODULE_VERSION the addon was built for (equal to process.versions.modules). */
export const nodeModuleVersion: number = binding.nodeModuleVersion;

/** islet: what `machineStalls()` returns; totals since the process started. */
export interface MachineStalls {
  /**
   * Whether stops can be told from CPU contention here (needs /proc/thread-self/schedstat);
   * when false the ledger stays at zero and CPU is charged as the thread's clock says.
   */
  detecting: boolean;
  /** stops seen by the watchdog (only while some run has a `timeout` or `cpuTimeout`) */
  count: number;
  /** their summed length in ns (a few ms short per stop: the part before the watchdog's planned wake-up is not seen) */
  totalNs: number;
  /** CPU time in ns given back to threads that were running through a stop */
  creditedNs: number;
}

/** islet: the process's machine-stall ledger (see MachineStalls). Cheap: reads four counters. */
export const machineStalls: () => MachineStalls = binding.machineStalls;
/** islet: the CPU clock of the calling thread, in ns */
export const threadCpuTime: () => bigint = binding.threadCpuTime;

/**
 * islet: an ArrayBuffer over the first `byteLength` bytes of the file at `path`, mapped shared:
 * every write to it is in the file at once (no system call) and stays there when the process
 * dies, for another process to read. The file must exist and be at least that long. Throws a
 * RangeError for a bad length or a file too short, an Error naming the path otherwise.
 */
export const mapSharedFile: (path: string, byteLength: number) => ArrayBuffer = binding.mapSharedFile;

/**
 * islet: the stuck-run watch, for a process that hosts isolates and can be lost (a worker under a
 * supervisor). With `ms` > 0, an isolate whose run has not ended `ms` after it was asked to stop
 * (it reached its heap limit, or a `timeout`/`cpuTimeout` fired, and it sits in a builtin that
 * never checks for termination, e.g. `new Array(3e8).fill(0)`) gets one line on stderr naming it
 * by its `label`, and the process is ended at once (SIGKILL). Without it such a run holds the
 * thread for many seconds, then V8 aborts the process anyway. 0 (the default): off.
 */
export const watchStuckIsolates: (ms: number) => void = binding.watchStuckIsolates;

// ---------------------------------------------------------------------------------------------
// Options

export interface ScriptOrigin {
  /** shown in stacks; use a URI such as `file:///app.js` */
  filename?: string;
  lineOffset?: number;
  columnOffset?: number;
}

export interface CachedDataOptions {
  /** V8 code cache to consume (machine code: never accept it from users) */
  cachedData?: ExternalCopy<ArrayBuffer>;
  /** produce a code cache; with `cachedData` set, only when the supplied one was rejected */
  produceCachedData?: boolean;
}

export interface CachedDataResult {
  cachedData?: ExternalCopy<ArrayBuffer>;
  cachedDataRejected?: boolean;
}

export interface RunOptions {
  /** wall-clock limit in ms; 0 or absent: none; Infinity or more than 2^31 - 1: 2^31 - 1 */
  timeout?: number;
  /** islet: limit in ms on the CPU clock of the thread running the isolate (same rules) */
  cpuTimeout?: number;
}

export interface TransferOptions {
  copy?: boolean;
  externalCopy?: boolean;
  reference?: boolean;
  /** proxy a Promise across isolates (combinable with the others) */
  promise?: boolean;
}

export interface TransferOptionsBidirectional {
  arguments?: TransferOptions;
  result?: TransferOptions;
}

export interface IsolateOptions {
  /**
   * megabytes, default 128, minimum 8, larger than 65536 (64 GB, Infinity included) means 65536;
   * a guideline: hostile code may briefly exceed it
   */
  memoryLimit?: number;
  /**
   * islet: a name for diagnostics (the stuck-run watch's line on stderr names the isolate by it); 128 characters kept
   */
  label?: string;
  /** create a V8 inspector for this isolate (createInspectorSession); off by default, no cost when off */
  inspector?: boolean;
  /**
   * Start from a snapshot made by `Isolate.createSnapshot()`: contexts made with createContext()
   * already hold what its scripts defined. islet also takes the snapshot's bytes (an
   * ArrayBuffer or a Buffer read from a file). A snapshot made by another V8 or Node build is
   * refused with `ERR_ISOLATE_SNAPSHOT_VERSION`, damaged bytes with `ERR_ISOLATE_SNAPSHOT`.
   */
  snapshot?: ExternalCopy<ArrayBuffer> | ArrayBuffer | ArrayBufferView;
  /** called when V8 loses control of the isolate; stop serving and exit the process */
  onCatastrophicError?: (message: string) => void;
  /**
   * islet extension (default true, as in the reference library): false makes `Atomics.wait`
   * throw a TypeError inside the isolate. A waiting isolate sleeps its thread without using CPU,
   * so CPU limits never end it; a host running untrusted code should turn it off.
   */
  allowAtomicsWait?: boolean;
}

export interface HeapStatistics {
  total_heap_size: number;
  total_heap_size_executable: number;
  total_physical_size: number;
  total_available_size: number;
  used_heap_size: number;
  heap_size_limit: number;
  malloced_memory: number;
  peak_malloced_memory: number;
  does_zap_garbage: number;
  number_of_native_contexts: number;
  number_of_detached_contexts: number;
  total_global_handles_size: number;
  used_global_handles_size: number;
  external_memory: number;
  /** bytes outside the V8 heap charged to this isolate (ArrayBuffers) */
  externally_allocated_size: number;
}

/** The values that move between isolates without a TransferOptions flag. */
export type Transferable =
  | null
  | undefined
  | string
  | number
  | boolean
  | bigint
  | Isolate
  | Context
  | Script
  | Module
  | Reference
  | ExternalCopy
  | Callback
  | Copy
  | Dereference;

/** What `copyInto()` returns: becomes a copy of the value when it reaches an isolate. */
export interface Copy<T = unknown> {
  readonly __isletCopy?: T;
}
/** What `derefInto()` returns: becomes the value itself in the isolate that owns it. */
export interface Dereference<T = unknown> {
  readonly __isletDereference?: T;
}

export type ModuleCompileOptions = ScriptOrigin & CachedDataOptions & { meta?: (meta: any) => void };
export type ClosureOptions = RunOptions & ScriptOrigin & TransferOptionsBidirectional;

export interface ContextOptions {
  /** announce the context to the isolate's inspector (the isolate needs `inspector: true`) */
  inspector?: boolean;
  /**
   * islet: define `globalThis.__isletAsyncContext` (non-enumerable, deletable), an
   * AsyncContextHandle over V8's continuation-preserved data: the value set before an `await` or
   * a `.then()` is the value seen when the continuation runs, however late the promise settles.
   * A bootstrap takes it (and deletes the global) to build AsyncLocalStorage.
   */
  asyncContext?: boolean;
  /**
   * islet: define `globalThis.__isletPromiseRejections(handler)` (non-enumerable, deletable): once
   * called, V8's notifications for promises of this context call `handler(kind, promise, reason)`,
   * kind 0 when one is rejected with no handler, 1 when such a one gets a handler later.
   */
  promiseRejections?: boolean;
}

/** What `__isletAsyncContext` holds inside a context made with `{ asyncContext: true }`. */
export interface AsyncContextHandle {
  /** the current value (undefined until set) */
  get(): unknown;
  /** replaces the current value and returns the previous one */
  set(value: unknown): unknown;
}

/** A node of a CPU profile (Chrome DevTools' Profiler.ProfileNode). */
export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; scriptId: string; url: string; lineNumber: number; columnNumber: number };
  hitCount: number;
  children: number[];
  /** samples per source line (1-based) of this function */
  positionTicks?: { line: number; ticks: number }[];
}

/** Chrome DevTools' Profiler.Profile: save it as JSON in a `.cpuprofile` file to open it in DevTools. */
export interface CpuProfile {
  nodes: CpuProfileNode[];
  /** µs, monotonic clock */
  startTime: number;
  endTime: number;
  /** node id of each sample */
  samples: number[];
  /** µs between samples; the first from startTime */
  timeDeltas: number[];
}

/**
 * What stopCpuProfiler resolves with. islet returns one entry holding every sample, whichever
 * thread took it (the reference library returns one per entry into the isolate); `threadId` is
 * the OS thread that ran most of them. Time the isolate was not running is an "(idle)" node.
 */
export interface CpuProfileEntry {
  threadId: number;
  profile: CpuProfile;
}

export interface CpuProfilerOptions {
  /** µs between samples, 100 to 1000000, default 1000 (the smallest of the running profiles applies) */
  samplingInterval?: number;
  /** samples kept, default 100000; later ones are dropped */
  maxSamples?: number;
}

/**
 * A Chrome DevTools protocol session with an isolate's inspector. Send with
 * dispatchProtocolMessage(json); receive by assigning `onResponse` and `onNotification`. They are
 * called in the isolate that created the session (on Node's event loop for Node's isolate).
 *
 * While the inspected isolate is paused at a breakpoint on Node's own thread (a sync call such as
 * `evalSync` hit it), Node's event loop cannot run: the callbacks are then called from inside the
 * paused call, and whatever they send synchronously (evaluateOnCallFrame, resume...) is handled at
 * once; promise continuations run too unless the paused call itself was made from a promise job.
 * A pause that no session can answer any more is resumed rather than left to hang the process.
 * Run code with the async forms (eval, apply...) to keep Node's loop free while paused.
 */
export interface InspectorSession {
  dispatchProtocolMessage(message: string): void;
  onResponse?: (callId: number, message: string) => void;
  onNotification?: (message: string) => void;
  /** disconnects; a paused isolate with no session left resumes */
  dispose(): void;
}

export type ModuleResolver = (specifier: string, referrer: Module) => Module | Promise<Module>;
export type DynamicImportResolver = (
  specifier: string,
  referrer: Module | { filename: string },
) => Module | Promise<Module>;

// ---------------------------------------------------------------------------------------------
// Classes

export interface Isolate {
  compileScript(code: string, options?: ScriptOrigin & CachedDataOptions): Promise<Script & CachedDataResult>;
  compileScriptSync(code: string, options?: ScriptOrigin & CachedDataOptions): Script & CachedDataResult;
  compileModule(code: string, options?: ModuleCompileOptions): Promise<Module & CachedDataResult>;
  compileModuleSync(code: string, options?: ModuleCompileOptions): Module & CachedDataResult;
  createContext(options?: ContextOptions): Promise<Context>;
  createContextSync(options?: ContextOptions): Context;
  /**
   * Starts a CPU profile titled `title` (one per title; at most 16 at a time). It starts at once
   * if the isolate is running, else with its next call.
   */
  startCpuProfiler(title: string, options?: CpuProfilerOptions): void;
  /** Stops the profile; resolves [] when no profile of that title runs. */
  stopCpuProfiler(title: string): Promise<CpuProfileEntry[]>;
  /** A DevTools protocol session (the isolate needs `inspector: true`). */
  createInspectorSession(): InspectorSession;
  /** Destroys the isolate now; a run in progress ends with ERR_ISOLATE_DISPOSED. */
  dispose(): void;
  getHeapStatistics(): Promise<HeapStatistics>;
  getHeapStatisticsSync(): HeapStatistics;
  /** islet: resolver for `import()` inside this isolate (null to remove it). */
  setDynamicImportResolver(resolve: DynamicImportResolver | null): void;
  /**
   * islet: charges `bytes` held outside V8 for this isolate to it (negative: gives them back);
   * false, and nothing charged, when it would leave the isolate less than 1/16 of its memory limit.
   */
  adjustExternalMemory(bytes: number): boolean;
  /** CPU time spent in this isolate, synchronous callbacks into Node it made included, in ns */
  readonly cpuTime: bigint;
  /** wall time this isolate was entered, in ns */
  readonly wallTime: bigint;
  readonly isDisposed: boolean;
  /** live handles (References, contexts, scripts...) into this isolate */
  readonly referenceCount: number;
}
export interface IsolateConstructor {
  new (options?: IsolateOptions): Isolate;
  /**
   * Runs `scripts` in a fresh context and returns a V8 startup snapshot of it, for
   * `new Isolate({ snapshot })`. `warmupScript` runs in a throwaway context first (V8's recipe:
   * its side effects are dropped). The bytes are valid for this Node binary only: save them
   * (`Buffer.from(snapshot.copy())`) and load them (`{ snapshot: fs.readFileSync(file) }`).
   */
  createSnapshot(
    scripts: SnapshotScript[],
    warmupScript?: string | SnapshotScript,
    options?: CreateSnapshotOptions,
  ): ExternalCopy<ArrayBuffer>;
  readonly prototype: Isolate;
}

export interface Context {
  readonly global: Reference<Record<string | number | symbol, any>>;
  eval(code: string, options?: RunOptions & ScriptOrigin & TransferOptions): Promise<any>;
  evalSync(code: string, options?: RunOptions & ScriptOrigin & TransferOptions): any;
  evalIgnored(code: string, options?: RunOptions & ScriptOrigin & TransferOptions): void;
  evalClosure(code: string, args?: any[], options?: ClosureOptions): Promise<any>;
  evalClosureSync(code: string, args?: any[], options?: RunOptions & ScriptOrigin & TransferOptionsBidirectional): any;
  evalClosureIgnored(code: string, args?: any[], options?: ClosureOptions): void;
  release(): void;
}
export interface ContextConstructor extends Function {
  readonly prototype: Context;
}

export interface Script {
  run(context: Context, options?: RunOptions & TransferOptions & { release?: boolean }): Promise<any>;
  runSync(context: Context, options?: RunOptions & TransferOptions & { release?: boolean }): any;
  runIgnored(context: Context, options?: RunOptions & TransferOptions & { release?: boolean }): void;
  release(): void;
}
export interface ScriptConstructor extends Function {
  readonly prototype: Script;
}

export interface Module {
  readonly dependencySpecifiers: string[];
  /** Reference to the namespace object (once instantiated) */
  readonly namespace: Reference<Record<string, any>>;
  instantiate(context: Context, resolve: ModuleResolver): Promise<void>;
  instantiateSync(context: Context, resolve: (specifier: string, referrer: Module) => Module): void;
  /** Repeated calls return (or throw) what the first one did. */
  evaluate(options?: RunOptions): Promise<void>;
  evaluateSync(options?: RunOptions): void;
  release(): void;
}
export interface ModuleConstructor extends Function {
  readonly prototype: Module;
}

export interface ReferenceApplyOptions extends RunOptions, TransferOptionsBidirectional {}

export interface Reference<T = any> {
  /** `typeof` the value ('null' for null, 'object' for symbols) */
  readonly typeof: string;
  copy(): Promise<T>;
  copySync(): T;
  deref(options?: { release?: boolean }): T;
  derefInto(options?: { release?: boolean }): Dereference<T>;
  release(): void;
  get(property: string | number | symbol, options?: TransferOptions & { accessors?: boolean }): Promise<any>;
  getSync(property: string | number | symbol, options?: TransferOptions & { accessors?: boolean }): any;
  set(property: string | number | symbol, value: any, options?: TransferOptions): Promise<boolean>;
  setSync(property: string | number | symbol, value: any, options?: TransferOptions): boolean;
  setIgnored(property: string | number | symbol, value: any, options?: TransferOptions): void;
  delete(property: string | number | symbol): Promise<boolean>;
  deleteSync(property: string | number | symbol): boolean;
  deleteIgnored(property: string | number | symbol): void;
  apply(receiver?: any, args?: any[], options?: ReferenceApplyOptions): Promise<any>;
  applySync(receiver?: any, args?: any[], options?: ReferenceApplyOptions): any;
  applyIgnored(receiver?: any, args?: any[], options?: ReferenceApplyOptions): void;
  /** From a non-default isolate only, on a function of Node's isolate: waits for its Promise. */
  applySyncPromise(receiver?: any, args?: any[], options?: ReferenceApplyOptions): any;
}
export interface ReferenceConstructor {
  new <T>(value: T, options?: { unsafeInherit?: boolean }): Reference<T>;
  readonly prototype: Reference;
}

export interface ExternalCopy<T = any> {
  copy(options?: { release?: boolean; transferIn?: boolean }): T;
  copyInto(options?: { release?: boolean; transferIn?: boolean }): Copy<T>;
  release(): void;
}
export interface ExternalCopyConstructor {
  new <T>(value: T, options?: { transferList?: any[]; transferOut?: boolean }): ExternalCopy<T>;
  /** bytes held by every ExternalCopy of this process */
  readonly totalExternalSize: number;
  readonly prototype: ExternalCopy;
}

export interface Callback<T extends (...args: any[]) => any = (...args: any[]) => any> {
  release(): void;
  readonly __isletCallback?: T;
}
export interface CallbackConstructor {
  new <T extends (...args: any[]) => any>(
    fn: T,
    options?: { async?: boolean; ignored?: boolean; sync?: boolean },
  ): Callback<T>;
  readonly prototype: Callback;
}

export const Isolate: IsolateConstructor = binding.Isolate;

Object.defineProperty(binding.Isolate, 'createSnapshot', {
  value: function createSnapshot(
    scripts: SnapshotScript[],
    warmupScript?: string | SnapshotScript,
    options: CreateSnapshotOptions = {},
  ) {
    checkSnapshotArguments(scripts, warmupScript);
    if (options.inProcess) return binding.Isolate._createSnapshot(scripts, warmupScript);
    const bytes = createSnapshotInChild(bindingFile, scripts, warmupScript, options.timeout);
    return new binding.ExternalCopy(bytes, { transferOut: true });
  },
  writable: true,
  configurable: true,
});
export const Context: ContextConstructor = binding.Context;
export const Script: ScriptConstructor = binding.Script;
export const Module: ModuleConstructor = binding.Module;
export const Reference: ReferenceConstructor = binding.Reference;
export const ExternalCopy: ExternalCopyConstructor = binding.ExternalCopy;
export const Callback: CallbackConstructor = binding.Callback;

// ---------------------------------------------------------------------------------------------
// Dynamic import(): native code calls this hook on Node's thread with a settle function.

type DynamicImportHook = (
  specifier: string,
  referrer: string,
  context: Context,
  settle: (error: unknown, module?: Module) => void,
) => void;

function resolveError(specifier: string, error: unknown): Error {
  const reason = error instanceof Error ? error.message : String(error);
  const wrapped = new Error(`Could not resolve '${specifier}': ${reason}`, { cause: error });
  return Object.assign(wrapped, { code: 'ERR_ISOLATE_RESOLVE' });
}

type IsolateWithHook = Isolate & { _setDynamicImportHook(hook: DynamicImportHook | null): void };
const isolateProto = binding.Isolate.prototype as IsolateWithHook;
Object.defineProperty(isolateProto, 'setDynamicImportResolver', {
  value: function setDynamicImportResolver(this: typeof isolateProto, resolve: DynamicImportResolver | null): void {
    if (resolve === null || resolve === undefined) {
      this._setDynamicImportHook(null);
      return;
    }
    if (typeof resolve !== 'function') {
      throw new TypeError('setDynamicImportResolver(resolve): `resolve` must be a function or null');
    }
    this._setDynamicImportHook((specifier, referrer, context, settle) => {
      (async () => {
        let resolved: unknown;
        try {
          resolved = await resolve(specifier, { filename: referrer });
        } catch (error) {
          throw resolveError(specifier, error);
        }
        if (!(resolved instanceof binding.Module)) {
          const got = typeof resolved;
          throw new TypeError(`The dynamic import resolver returned ${got} for '${specifier}', not a Module`);
        }
        const module = resolved as Module;
        await module.instantiate(context, resolve as ModuleResolver);
        await module.evaluate();
        return module;
      })().then(
        (module) => settle(undefined, module),
        (error) => settle(error ?? new Error(`import('${specifier}') failed`)),
      );
    });
  },
  writable: true,
  configurable: true,
});

// ---------------------------------------------------------------------------------------------
// The module object itself: transferable into isolates (`context.global.setSync('ivm', ivm)`),
// and, like every class and prototype of the API, immutable.

binding.registerLibrary(module.exports);
for (const name of ['Isolate', 'Context', 'Script', 'Module', 'Reference', 'ExternalCopy', 'Callback']) {
  Object.freeze(binding[name].prototype);
  Object.freeze(binding[name]);
}
Object.freeze(module.exports);

// Node's platform goes away right after 'exit' (process.exit() runs no other cleanup): isolates
// still running on islet's thread pool are stopped first, so none runs while it does.
process.on('exit', () => binding.shutdown());
