// The part of native/'s isolate API (shared/reference/isolate-api.md) that the sandbox uses,
// typed here so host/ compiles whatever stage native/index.ts is at. The values always come
// from `require` of the native folder.
import nativeModule = require('../../native');

export interface TransferOptions {
  copy?: boolean;
  externalCopy?: boolean;
  reference?: boolean;
  promise?: boolean;
}
export interface RunOptions {
  timeout?: number;
  /** islet extension: CPU budget of this call in ms (ignored by the reference library) */
  cpuTimeout?: number;
  arguments?: TransferOptions;
  result?: TransferOptions;
  reference?: boolean;
  copy?: boolean;
}
export interface ExternalCopy<T = unknown> {
  copy(): T;
  copyInto(options?: { release?: boolean; transferIn?: boolean }): unknown;
  release(): void;
}
export interface Reference<T = unknown> {
  readonly typeof: string;
  applySync(receiver: unknown, args?: unknown[], options?: RunOptions): any;
  getSync(property: string, options?: TransferOptions & { accessors?: boolean }): any;
  derefInto(options?: { release?: boolean }): unknown;
  release(): void;
}
export interface Script {
  runSync(context: Context, options?: RunOptions & { release?: boolean }): any;
  release(): void;
  cachedData?: ExternalCopy<ArrayBuffer>;
  cachedDataRejected?: boolean;
}
export interface Context {
  readonly global: Reference<Record<string, unknown>>;
  evalSync(code: string, options?: RunOptions & { filename?: string }): any;
  evalClosureSync(code: string, args?: unknown[], options?: RunOptions): any;
  release(): void;
}
export interface Isolate {
  readonly isDisposed: boolean;
  readonly cpuTime: bigint;
  readonly wallTime: bigint;
  compileScriptSync(code: string, options?: { filename?: string; cachedData?: ExternalCopy<ArrayBuffer>; produceCachedData?: boolean }): Script;
  createContextSync(options?: { inspector?: boolean }): Context;
  getHeapStatisticsSync(): { used_heap_size: number; heap_size_limit: number };
  dispose(): void;
}
export interface NativeApi {
  Isolate: new (options?: { memoryLimit?: number }) => Isolate;
  Callback: new (fn: (...args: any[]) => unknown, options?: { async?: boolean; ignored?: boolean; sync?: boolean }) => unknown;
  ExternalCopy: new <T>(value: T, options?: { transferOut?: boolean; transferList?: unknown[] }) => ExternalCopy<T>;
  Reference: new <T>(value: T) => Reference<T>;
}

export const native = nativeModule as unknown as NativeApi;
