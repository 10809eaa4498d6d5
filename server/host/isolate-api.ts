// The server's one door to native/ (islet's isolate addon). The isolate types are declared in
// native/index.ts and only re-exported here; the module itself is loaded on first use (a process
// that only routes or deploys never loads the addon) by a relative require of the `native`
// folder, so `-r scripts/reference-isolate.js` can swap in the reference library. Also here:
// what a failure of the isolate API means for a request, decided by the addon's stable codes.
import type * as NativeModule from '../../native';

export type {
  CachedDataResult,
  Context,
  ExternalCopy,
  HeapStatistics,
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
  // a plain require, not `import *`: the reference library's exports are not enumerable, and a
  // namespace copy would miss them
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (api ??= require('../../native') as IsolateApi);
}

/** native/'s ledger of machine stops (see native/index.ts), or null under a library without one */
export function machineStalls(): NativeModule.MachineStalls | null {
  const read = (isolateApi() as Partial<IsolateApi>).machineStalls;
  return typeof read === 'function' ? read() : null;
}

/** Code caches are V8 machine code: valid only for the V8 that made them. */
export const v8Version = process.versions.v8;

export type IsolateFailure = 'cpu' | 'wall' | 'memory' | 'disposed';

/**
 * What an error from the isolate API says happened to the isolate, from its stable `code`
 * (native/index.ts lists them): a time limit, the memory limit (V8 disposed the isolate), or a
 * disposal by its owner; null for anything else (an exception of the code that ran).
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
    default:
      return null;
  }
}
