// The shim bootstrap: the first script run in every tenant context. It exports one function,
// `install(bridge, env)`, which the host calls once with its bridge function; install defines
// the Web platform globals and returns the entry points the host calls per request. Nothing of
// the bridge is left on the global object: it lives in this bundle's closures only.
import type { IsolateEntries } from '../server/bridge/ops';
import { setHost, completeOp } from './internal/bridge';
import { installClock } from './internal/clock';
import { defineLazy } from './internal/lazy';
import {
  ObjectDefineProperty,
  globalObject,
  StringPrototypeCharCodeAt,
  ObjectPrototypeHasOwnProperty,
  SymbolToStringTag,
} from './internal/primordials';
import { DOMException } from './events/dom-exception';
import { Event, EventTarget, CustomEvent, listenersOf } from './events/event-target';
import { logUncaught, setGlobalReporter } from './internal/report';
import { AbortController, AbortSignal } from './abort/abort';
import { TextEncoder, TextDecoder } from './encoding/text-codec';
import { atob, btoa } from './encoding/base64';
import { URL } from './url/url';
import { URLSearchParams } from './url/search-params';
import { Headers } from './fetch/headers';
import { Request } from './fetch/request';
import { Response } from './fetch/response';
import { Blob, File } from './fetch/blob';
import { FormData } from './fetch/form-data';
import { fetch } from './fetch/fetch';
import { setTimeout, setInterval, clearTimeout, clearInterval, queueMicrotask, fireTimer } from './timers/timers';
import { createConsole } from './console/console';
import { createCrypto, Crypto } from './crypto/crypto';
import { streams } from './streams/polyfill';
import { pullSink, cancelSink } from './streams/sink';
import { FetchEvent } from './runtime/fetch-event';
import { configureDispatch, dispatch, scheduled, bindModule, bindScript, finishRequest } from './runtime/dispatch';
import { buildEnv, type BindingNames } from './workers/env';
import { createEncodingStreams } from './encoding/streams';
import { loadURLPattern } from './url/pattern';
import { createCompressionStreams } from './compression/compression';
import { structuredClone } from './messaging/structured-clone';
import { adoptNativeAsyncContext } from './internal/async-context';
import { adoptPromiseRejections, notifyRejections } from './internal/promise-rejections';
import { installWasmCompilers } from './wasm/streaming';

declare const require: (id: string) => any;

function define(name: string, value: unknown): void {
  // an interface keeps the name the standards give it (esbuild renames some classes, AbortSignal
  // to _AbortSignal) and its Symbol.toStringTag ('[object AbortSignal]')
  if (typeof value === 'function' && StringPrototypeCharCodeAt(name, 0) <= 90) nameInterface(value, name);
  ObjectDefineProperty(globalObject, name, { value, writable: true, configurable: true, enumerable: false });
}

function nameInterface(value: Function, name: string): void {
  if (value.name !== name) ObjectDefineProperty(value, 'name', { value: name, configurable: true });
  const prototype = value.prototype;
  const tagged =
    prototype === null || typeof prototype !== 'object' || ObjectPrototypeHasOwnProperty(prototype, SymbolToStringTag);
  if (!tagged) {
    ObjectDefineProperty(prototype, SymbolToStringTag, { value: name, configurable: true });
  }
}

function named<T extends Function>(value: T, name: string): T {
  nameInterface(value, name);
  return value;
}

/** returns the entry points the host calls (each becomes a Reference on the host side) */
export function install(
  bridge: (op: string, ...args: unknown[]) => unknown,
  env: Record<string, unknown>,
  bindings?: BindingNames,
): IsolateEntries {
  setHost(bridge);
  // before anything else: the addon's async context handle leaves the global (see the file)
  adoptNativeAsyncContext();
  adoptPromiseRejections();
  // the clock stands still while tenant code runs and moves when the host enters the isolate
  // (internal/clock.ts): no bridge crossing per read, and nothing to time a neighbour with
  const clock = installClock();
  const { now, tick } = clock;
  const origin = clock.origin;

  define('DOMException', DOMException);
  define('Event', Event);
  define('EventTarget', EventTarget);
  define('CustomEvent', CustomEvent);
  define('AbortController', AbortController);
  define('AbortSignal', AbortSignal);
  define('TextEncoder', TextEncoder);
  define('TextDecoder', TextDecoder);
  define('atob', atob);
  define('btoa', btoa);
  define('URL', URL);
  define('URLSearchParams', URLSearchParams);
  define('Headers', Headers);
  define('Request', Request);
  define('Response', Response);
  define('Blob', Blob);
  define('File', File);
  define('FormData', FormData);
  define('fetch', fetch);
  define('FetchEvent', FetchEvent);
  define('setTimeout', setTimeout);
  define('setInterval', setInterval);
  define('clearTimeout', clearTimeout);
  define('clearInterval', clearInterval);
  define('queueMicrotask', queueMicrotask);
  define('structuredClone', structuredClone);
  define('console', createConsole(now));
  define('Crypto', Crypto);
  define('crypto', createCrypto());
  define('self', globalObject);
  installWasmCompilers(WebAssembly, Response as unknown as typeof globalThis.Response);

  // the global scope is an EventTarget (for `addEventListener('fetch', ...)`)
  const globalTarget = new EventTarget();
  define('addEventListener', (type: string, listener: never, options?: never) =>
    globalTarget.addEventListener(type, listener, options),
  );
  define('removeEventListener', (type: string, listener: never, options?: never) =>
    globalTarget.removeEventListener(type, listener, options),
  );
  define('dispatchEvent', (event: Event) => globalTarget.dispatchEvent(event));

  // heavy parts, evaluated on first use
  const streamNames = [
    'ReadableStream',
    'ReadableStreamDefaultReader',
    'ReadableStreamBYOBReader',
    'ReadableStreamBYOBRequest',
    'ReadableByteStreamController',
    'ReadableStreamDefaultController',
    'WritableStream',
    'WritableStreamDefaultWriter',
    'WritableStreamDefaultController',
    'TransformStream',
    'TransformStreamDefaultController',
    'ByteLengthQueuingStrategy',
    'CountQueuingStrategy',
  ] as const;
  for (const name of streamNames) defineLazy(globalObject, name, () => (streams() as any)[name]);
  let encodingStreams: ReturnType<typeof createEncodingStreams> | null = null;
  const encoding = () => (encodingStreams ??= createEncodingStreams());
  defineLazy(globalObject, 'TextEncoderStream', () => named(encoding().TextEncoderStream, 'TextEncoderStream'));
  defineLazy(globalObject, 'TextDecoderStream', () => named(encoding().TextDecoderStream, 'TextDecoderStream'));
  defineLazy(globalObject, 'URLPattern', () => named(loadURLPattern() as Function, 'URLPattern'));
  let compressionStreams: ReturnType<typeof createCompressionStreams> | null = null;
  const compression = () => (compressionStreams ??= createCompressionStreams());
  defineLazy(globalObject, 'CompressionStream', () => named(compression().CompressionStream, 'CompressionStream'));
  defineLazy(globalObject, 'DecompressionStream', () =>
    named(compression().DecompressionStream, 'DecompressionStream'),
  );
  defineLazy(globalObject, 'SubtleCrypto', () => named(require('./crypto/subtle').SubtleCrypto, 'SubtleCrypto'));
  defineLazy(globalObject, 'CryptoKey', () => named(require('./crypto/subtle').CryptoKey, 'CryptoKey'));
  // globals tenants use now and then: each evaluated (its classes created) on first use, so an
  // isolate that never touches them starts as fast as before they existed
  const lazyClass = (name: string, module: () => Record<string, Function>) =>
    defineLazy(globalObject, name, () => named(module()[name], name));
  const performanceModule = () => require('./perf/performance');
  for (const name of ['Performance', 'PerformanceEntry', 'PerformanceMark', 'PerformanceMeasure']) {
    lazyClass(name, performanceModule);
  }
  const Performance = () => (globalObject as any).Performance;
  defineLazy(globalObject, 'performance', () => performanceModule().createPerformance(now, origin, Performance()));
  lazyClass('Navigator', () => require('./runtime/navigator'));
  defineLazy(globalObject, 'navigator', () => require('./runtime/navigator').navigator);
  lazyClass('Scheduler', () => require('./timers/scheduler'));
  defineLazy(globalObject, 'scheduler', () => require('./timers/scheduler').scheduler);
  const messageEvents = () => require('./events/message-events');
  for (const name of ['MessageEvent', 'ErrorEvent', 'PromiseRejectionEvent']) lazyClass(name, messageEvents);
  // errors nobody can catch (a throwing listener or timer callback) and reportError() go to the
  // global scope's 'error' listeners first; the ErrorEvent module loads only when there are some
  let globalReporter: ((error: unknown) => void) | null = null;
  const reportToGlobal = (error: unknown) => {
    if (globalReporter === null && listenersOf(globalTarget, 'error').length === 0) return logUncaught(error);
    globalReporter ??= require('./runtime/report-error').createGlobalReporter(globalTarget);
    globalReporter!(error);
  };
  setGlobalReporter(reportToGlobal);
  defineLazy(globalObject, 'reportError', () => require('./runtime/report-error').createReportError(reportToGlobal));
  const messaging = () => require('./messaging/message-channel');
  lazyClass('MessageChannel', messaging);
  lazyClass('MessagePort', messaging);
  // Workers' WebSockets (workers/websocket.ts): WebSocketPair to accept one, WebSocket to open one
  const webSockets = () => require('./workers/websocket');
  for (const name of ['WebSocket', 'WebSocketPair', 'CloseEvent']) lazyClass(name, webSockets);
  // the Workers platform: the Cache API, cron triggers' classes (server/bindings/)
  const cacheModule = () => require('./workers/cache');
  defineLazy(globalObject, 'caches', () => cacheModule().createCacheStorage());
  lazyClass('Cache', cacheModule);
  lazyClass('CacheStorage', cacheModule);
  const scheduledModule = () => require('./workers/scheduled');
  lazyClass('ScheduledController', scheduledModule);
  lazyClass('ScheduledEvent', scheduledModule);

  configureDispatch(buildEnv(env, bindings), globalTarget);
  // every way the host enters the isolate moves the clock first
  const entered =
    <A extends unknown[], R>(entry: (...args: A) => R) =>
    (...args: A): R => {
      tick();
      return entry(...args);
    };
  return {
    dispatch: entered(dispatch),
    scheduled: entered(scheduled),
    complete: entered(completeOp),
    fire: entered(fireTimer),
    // only ever called for a socket, which exists only once the module was loaded
    socketEvent: entered((id, kind, data, code, reason) => webSockets().socketEvent(id, kind, data, code, reason)),
    pull: entered(pullSink),
    cancel: entered(cancelSink),
    finish: entered(finishRequest),
    rejections: entered(() =>
      notifyRejections(
        globalTarget,
        (type) => listenersOf(globalTarget, type).length > 0,
        () => messageEvents().PromiseRejectionEvent,
      ),
    ),
    bindModule,
    bindScript,
  };
}
