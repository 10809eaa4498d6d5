// The server's one door to native/ (islet's isolate addon). The isolate types are declared in
// native/index.ts and only re-exported here; the module itself is loaded on first use (a process
// that only routes or deploys never loads the addon) by a relative require of the `native`
// folder, so `-r scripts/reference-isolate.js` can swap in the reference library. Also here:
// what a failure of the isolate API means for a request, decided by the addon's stable codes.
import v8 from 'node:v8';
import type * as NativeModule from '../../native';

export type {
  CachedDataResult,
  Context,
  CpuProfile,
  CpuProfileNode,
  CpuProfilerOptions,
  ExternalCopy,
  HeapStatistics,
  InspectorSession,
  Isolate,
  MachineStalls,
  Module,
  Reference,
  Script,
} from '../../native';

export type IsolateApi = typeof NativeModule;

let api: IsolateApi | undefined;

/** native/ (or the reference library under the preload), loaded on first use */
export function isolateApi(): IsolateApi {
  if (!api) enableEngineFeatures();
  // a plain require, not `import *`: the reference library's exports are not enumerable, and a
  // namespace copy would miss them
  return (api ??= require('../../native') as IsolateApi);
}

/**
 * ES2024's ArrayBuffer.prototype.transfer (and `detached`) is in Node 20's V8 behind a flag that
 * later V8s shipped on: tenant contexts get it, so structuredClone's `transfer` and byte streams
 * can detach buffers as the standards say. Set before any isolate exists (contexts made after a
 * flag change see it; V8's code caches carry the flags they were made under, so every cache of
 * this process is made with it).
 */
function enableEngineFeatures(): void {
  if (typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function') return;
  v8.setFlagsFromString('--harmony-rab-gsab-transfer');
}

/** native/'s ledger of machine stops (see native/index.ts), or null under a library without one */
export function machineStalls(): NativeModule.MachineStalls | null {
  const read = (isolateApi() as Partial<IsolateApi>).machineStalls;
  return typeof read === 'function' ? read() : null;
}

/** native/'s clock of the calling thread's CPU (ns), or null under a library without one */
export function threadCpuClock(): (() => bigint) | null {
  const read = (isolateApi() as Partial<IsolateApi>).threadCpuTime;
  return typeof read === 'function' ? read : null;
}

/** Code caches are V8 machine code: valid only for the V8 that made them. */
export const v8Version = process.versions.v8;

/**
 * Whether native/ resolves to the reference library (isolated-vm, swapped in by
 * scripts/reference-isolate.js for comparisons) rather than islet's addon. The reference library
 * has no CPU timeout and sets no error codes.
 */
export function onReferenceLibrary(): boolean {
  if (reference === undefined) {
    try {
      reference = require.resolve('../../native').includes('isolated-vm');
    } catch {
      reference = false;
    }
  }
  return reference;
}
let reference: boolean | undefined;

export type IsolateFailure = 'cpu' | 'wall' | 'memory' | 'disposed';

/**
 * What an error from the isolate API says happened to the isolate, from its stable `code`
 * (native/index.ts lists them): a time limit, the memory limit (V8 disposed the isolate), or a
 * disposal by its owner; null for anything else (an exception of the code that ran). Message
 * text never counts on islet's addon: tenant code can throw any message it likes.
 */
export function isolateFailure(error: unknown): IsolateFailure | null {
  switch ((error as { code?: unknown } | null)?.code) {
    case 'ERR_ISOLATE_CPU_TIMEOUT':
      return 'cpu';
    case 'ERR_ISOLATE_TIMEOUT':
      return 'wall';
    case 'ERR_ISOLATE_MEMORY_LIMIT':
      return 'memory';
    case 'ERR_ISOLATE_DISPOSED':
    case 'ISLET_SANDBOX_DISPOSED':
      return 'disposed';
    case undefined:
      return onReferenceLibrary() ? referenceFailure(error) : null;
    default:
      return null;
  }
}

/**
 * The reference library's failures carry no code, only its fixed messages: under it, and only
 * under it, they stand in for the codes (comparisons run islet on it; a hostile tenant does not).
 */
function referenceFailure(error: unknown): IsolateFailure | null {
  const message = (error as { message?: unknown } | null)?.message;
  if (typeof message !== 'string') return null;
  if (message === 'Script execution timed out.') return 'wall';
  if (message.includes('memory limit')) return 'memory';
  if (error instanceof RangeError && message === 'Array buffer allocation failed') return 'memory';
  if (message === 'Isolate is disposed') return 'disposed';
  return null;
}
