// The shim bootstrap: the first script run in every tenant context. It exports one function,
// `install(bridge, env)`, which the host calls once with its bridge function; install defines
// the Web platform globals and returns the entry points the host calls per request. Nothing of
// the bridge is left on the global object: it lives in this bundle's closures only.
import type { IsolateEntries } from '../server/bridge/ops';
import { setHost, completeOp, host } from './internal/bridge';
import { defineLazy } from './internal/lazy';
import { ObjectDefineProperty, SafeTypeError, globalObject } from './internal/primordials';
import { DOMException } from './events/dom-exception';
import { Event, EventTarget, CustomEvent } from './events/event-target';
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

declare const require: (id: string) => any;


function define(name: string, value: unknown): void {
  ObjectDefineProperty(globalObject, name, { value, writable: true, configurable: true, enumerable: false });
}

function structuredClone(value: unknown, options?: { transfer?: unknown[] }): unknown {
  if (arguments.length === 0) throw new SafeTypeError("Failed to execute 'structuredClone': 1 argument required, but only 0 present.");
  void options;
  try {
    // the host's copy of the arguments and of the result is V8's own serializer: the real
    // structured clone algorithm, with its DataCloneError cases
    return host('clone', value);
  } catch (error) {
    throw new DOMException(`Failed to execute 'structuredClone': ${(error as Error)?.message ?? 'the value could not be cloned'}`, 'DataCloneError');
  }
}

/** returns the entry points the host calls (each becomes a Reference on the host side) */
export function install(
  bridge: (op: string, ...args: unknown[]) => unknown,
  env: Record<string, unknown>,
  bindings?: BindingNames,
): IsolateEntries {
  setHost(bridge);
  // a millisecond clock read in the isolate: no bridge crossing per call, and a coarse timer is
  // what a multi-tenant runtime should give untrusted code anyway (timing side channels)
  const DateNow = Date.now;
  const origin = DateNow();
  let last = 0;
  const now = () => {
    const t = DateNow() - origin;
    if (t > last) last = t; // monotonic even if the wall clock steps back
    return last;
  };

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
  define('performance', {
    now,
    timeOrigin: origin,
    toJSON: () => ({ timeOrigin: origin }),
  });
  define('navigator', { userAgent: 'islet', hardwareConcurrency: 1, language: 'en' });
  define('self', globalObject);

  // the global scope is an EventTarget (for `addEventListener('fetch', ...)`)
  const globalTarget = new EventTarget();
  define('addEventListener', (type: string, listener: never, options?: never) => globalTarget.addEventListener(type, listener, options));
  define('removeEventListener', (type: string, listener: never, options?: never) => globalTarget.removeEventListener(type, listener, options));
  define('dispatchEvent', (event: Event) => globalTarget.dispatchEvent(event));

  // heavy parts, evaluated on first use
  const streamNames = ['ReadableStream', 'ReadableStreamDefaultReader', 'ReadableStreamBYOBReader', 'ReadableStreamBYOBRequest', 'ReadableByteStreamController', 'ReadableStreamDefaultController', 'WritableStream', 'WritableStreamDefaultWriter', 'WritableStreamDefaultController', 'TransformStream', 'TransformStreamDefaultController', 'ByteLengthQueuingStrategy', 'CountQueuingStrategy'] as const;
  for (const name of streamNames) defineLazy(globalObject, name, () => (streams() as any)[name]);
  let encodingStreams: ReturnType<typeof createEncodingStreams> | null = null;
  defineLazy(globalObject, 'TextEncoderStream', () => (encodingStreams ??= createEncodingStreams()).TextEncoderStream);
  defineLazy(globalObject, 'TextDecoderStream', () => (encodingStreams ??= createEncodingStreams()).TextDecoderStream);
  defineLazy(globalObject, 'URLPattern', loadURLPattern);
  let compressionStreams: ReturnType<typeof createCompressionStreams> | null = null;
  defineLazy(globalObject, 'CompressionStream', () => (compressionStreams ??= createCompressionStreams()).CompressionStream);
  defineLazy(globalObject, 'DecompressionStream', () => (compressionStreams ??= createCompressionStreams()).DecompressionStream);
  defineLazy(globalObject, 'SubtleCrypto', () => require('./crypto/subtle').SubtleCrypto);
  defineLazy(globalObject, 'CryptoKey', () => require('./crypto/subtle').CryptoKey);
  // the Workers platform: the Cache API, binding classes, cron triggers' classes (server/bindings/)
  defineLazy(globalObject, 'caches', () => require('./workers/cache').createCacheStorage());
  defineLazy(globalObject, 'Cache', () => require('./workers/cache').Cache);
  defineLazy(globalObject, 'CacheStorage', () => require('./workers/cache').CacheStorage);
  defineLazy(globalObject, 'ScheduledController', () => require('./workers/scheduled').ScheduledController);
  defineLazy(globalObject, 'ScheduledEvent', () => require('./workers/scheduled').ScheduledEvent);

  configureDispatch(buildEnv(env, bindings), globalTarget);
  return {
    dispatch,
    scheduled,
    complete: completeOp,
    fire: fireTimer,
    pull: pullSink,
    cancel: cancelSink,
    finish: finishRequest,
    bindModule,
    bindScript,
  };
}
