// The request side of the bridge inside the isolate: the host enters `dispatch` with a request,
// this module calls the tenant's handler, and answers with host('respond', ...) once the Response
// is ready or host('fail', ...) when the handler threw or returned something else. It only uses
// captured built-ins, so tenant code tampering with prototypes cannot break the plumbing.
import { host, forgetOp } from '../internal/bridge';
import { incomingRequest, requestState, Request } from '../fetch/request';
import { Response, responseState } from '../fetch/response';
import { headerList } from '../fetch/headers';
import { bodyForHost } from '../fetch/body';
import type { CfFlat, ResponseAnswer, ResponseBody } from '../../server/bridge/ops';
import { abortSignal } from '../abort/abort';
import { listenersOf, EventTarget } from '../events/event-target';
import { createFetchEvent, hasResponded } from './fetch-event';
import { boundErrorText, describeError } from '../internal/report';
import { connectBuiltins } from '../internal/builtin-internals';
import { asyncContext } from '../internal/async-context';
import { DOMException } from '../events/dom-exception';
import { forgetTimer } from '../timers/timers';
import { createScheduledController, createScheduledEvent } from '../workers/scheduled';
import {
  SafeMap,
  MapPrototypeGet,
  MapPrototypeSet,
  MapPrototypeDelete,
  ReflectApply,
  ReflectConstruct,
  PromiseResolve,
  PromisePrototypeThen,
  SafeTypeError,
  ObjectPrototypeToString,
} from '../internal/primordials';

interface Pending {
  /** the incoming request: its signal (created only if the function reads it) aborts when the request is cut */
  request: Request | null;
  finished: boolean;
  /** waitUntil promises not settled yet */
  waits: number;
}
const requests = new SafeMap<number, Pending>();

type HandlerMethod = (...args: unknown[]) => unknown;
/** what an entrypoint instance offers: fetch and/or scheduled */
type EntrypointInstance = { fetch?: HandlerMethod; scheduled?: HandlerMethod };
type Handler =
  /** a module's default export with its `fetch` and/or `scheduled` (a cron-only worker has no fetch) */
  | { target: object; fetch: HandlerMethod | undefined; scheduled: HandlerMethod | undefined }
  /** a class-based default export (WorkerEntrypoint): one instance per request, `new C(ctx, env)` */
  | { entrypoint: new (ctx: unknown, env: unknown) => EntrypointInstance }
  | { script: true };
declare const require: (id: string) => any;
const webSockets = () => require('../workers/websocket') as typeof import('../workers/websocket');

let handler: Handler | null = null;
let env: Record<string, unknown> = {};
let globalTarget: EventTarget;

export function configureDispatch(tenantEnv: Record<string, unknown>, target: EventTarget): void {
  env = tenantEnv;
  globalTarget = target;
}

/**
 * host entry: the entry module was evaluated; bind its default export. The loader also enters
 * here once before any tenant code with the namespace of islet:internal, to connect the built-in
 * modules (see internal/builtin-internals.ts).
 */
export function bindModule(namespace: Record<string, unknown>): void {
  const isObject = namespace !== null && typeof namespace === 'object';
  if (isObject && handler === null && connectBuiltins(namespace, env)) return;
  const exported = namespace === null || typeof namespace !== 'object' ? undefined : namespace.default;
  if (typeof exported === 'function' && isEntrypointClass(exported)) {
    handler = { entrypoint: exported as never };
    return;
  }
  const isHandler = exported !== null && (typeof exported === 'object' || typeof exported === 'function');
  const fetch = isHandler ? (exported as any).fetch : undefined;
  // a worker with only a `scheduled` handler (cron triggers) is a worker too
  const scheduled = isHandler ? (exported as any).scheduled : undefined;
  if (typeof fetch !== 'function' && typeof scheduled !== 'function') {
    const what = exported === undefined ? 'no default export' : `a default export without a fetch method, nor a scheduled method (${ObjectPrototypeToString(exported)})`;
    throw new SafeTypeError(`The entry module has ${what}: it must \`export default { fetch(request, env, ctx) { ... } }\``);
  }
  handler = {
    target: exported as object,
    fetch: typeof fetch === 'function' ? fetch : undefined,
    scheduled: typeof scheduled === 'function' ? scheduled : undefined,
  };
}

/** `export default class extends WorkerEntrypoint { fetch(request) {...} }`: a class whose instances fetch */
function isEntrypointClass(value: Function): boolean {
  let prototype: unknown;
  try {
    prototype = value.prototype;
  } catch {
    return false;
  }
  if (prototype === null || typeof prototype !== 'object') return false;
  const methods = prototype as { fetch?: unknown; scheduled?: unknown };
  return typeof methods.fetch === 'function' || typeof methods.scheduled === 'function';
}

/** host entry: the classic script ran; it must have registered a 'fetch' listener */
export function bindScript(): void {
  if (listenersOf(globalTarget, 'fetch').length === 0 && listenersOf(globalTarget, 'scheduled').length === 0) {
    throw new SafeTypeError("The script registered no fetch handler: call addEventListener('fetch', (event) => event.respondWith(...))");
  }
  handler = { script: true };
}

function fail(id: number, error: unknown): void {
  const pending = MapPrototypeGet(requests, id);
  if (!pending || pending.finished) return;
  let message: string;
  try {
    message = error instanceof Error ? `${error.name}: ${error.message}` : `Uncaught ${String(error)}`;
  } catch {
    message = 'Uncaught exception';
  }
  host('fail', id, boundErrorText(message), describeError(error));
}

/** the answer crossing to the host: [status, statusText, headers, body, released] */
type Answer = ResponseAnswer;

function respond(id: number, value: unknown): void {
  const answer = toAnswer(id, value);
  if (answer !== null) host('respond', id, answer[0], answer[1], answer[2], answer[3], answer[4]);
}

/** validates the handler's result and turns it into an Answer; on failure reports it and returns null */
function toAnswer(id: number, value: unknown): Answer | null {
  const pending = MapPrototypeGet(requests, id);
  if (!pending || pending.finished) return null;
  const s = responseState(value);
  if (s === null) {
    let what: string;
    try {
      what = value === null ? 'null' : typeof value === 'object' ? ObjectPrototypeToString(value) : typeof value;
    } catch {
      what = 'an object';
    }
    fail(id, new SafeTypeError(`The fetch handler returned ${what} instead of a Response`));
    return null;
  }
  if (s.type === 'error') {
    fail(id, new SafeTypeError('The fetch handler returned Response.error()'));
    return null;
  }
  let body: ResponseBody;
  try {
    // a 101 with a WebSocket: its end goes to the network, coupled by the host to the client's connection
    body = s.webSocket ? { webSocket: webSockets().releaseForResponse(s.webSocket as never) } : bodyForHost(s.body);
  } catch (error) {
    fail(id, error);
    return null;
  }
  // nothing left to track here (a plain body, no waitUntil pending): forget the request now and
  // tell the host, which then need not come back in just to say it is over (a WebSocket's
  // request goes on as a session: the host comes back when it ends)
  const released =
    (body === null || typeof body !== 'object' || !('source' in body || 'webSocket' in body)) &&
    typeof body !== 'number' &&
    pending.waits === 0;
  if (released) {
    pending.finished = true;
    MapPrototypeDelete(requests, id);
  }
  return [s.status, s.statusText, headerList(s.headers), body, released];
}

/**
 * A Response returned synchronously is handed back as the dispatch entry's own result (one
 * bridge crossing fewer on the hot path); a promise answers later through host('respond').
 */
function settle(id: number, result: unknown): Answer | undefined {
  if (responseState(result) !== null) return toAnswer(id, result) ?? undefined;
  let promise: Promise<unknown>;
  try {
    promise = PromiseResolve(result);
  } catch (error) {
    fail(id, error);
    return undefined;
  }
  PromisePrototypeThen(promise, (value) => respond(id, value), (error) => fail(id, error));
  return undefined;
}

function waitUntil(id: number, promise: unknown): void {
  const pending = MapPrototypeGet(requests, id);
  if (!pending || pending.finished) return;
  pending.waits++;
  host('wait', id, 1);
  const done = () => {
    pending.waits--;
    if (!pending.finished) host('wait', id, -1);
  };
  let settled: Promise<unknown>;
  try {
    settled = PromiseResolve(promise);
  } catch (error) {
    host('log', 'error', 'Uncaught (in waitUntil) ' + describeError(error));
    done();
    return;
  }
  PromisePrototypeThen(settled, done, (error) => {
    host('log', 'error', 'Uncaught (in waitUntil) ' + describeError(error));
    done();
  });
}

/**
 * host entry: a request arrives. `body`: null, the host source id of its body, or the whole body
 * when the host had already read it (a small upload).
 */
export function dispatch(id: number, method: string, url: string, headers: string[], body: number | Uint8Array | null, cf: CfFlat): Answer | undefined {
  const pending: Pending = { request: null, finished: false, waits: 0 };
  MapPrototypeSet(requests, id, pending);
  // a request starts outside every AsyncLocalStorage (an enterWith() of an earlier one ends here)
  asyncContext.set(undefined);
  const request = incomingRequest(method, url, headers, body === null || typeof body === 'object' ? body : { hostSource: body }, cf);
  pending.request = request;
  if (handler === null) {
    fail(id, new SafeTypeError('No fetch handler is bound in this isolate'));
    return;
  }
  if ('script' in handler) {
    let response: unknown;
    let gotResponse = false;
    const event = createFetchEvent(request as unknown as globalThis.Request, {
      respondWith(value) {
        response = value;
        gotResponse = true;
      },
      waitUntil: (p) => waitUntil(id, p),
      passThroughOnException: () => host('passThrough', id),
    });
    try {
      globalTarget.dispatchEvent(event);
    } catch (error) {
      fail(id, error);
      return;
    }
    if (listenersOf(globalTarget, 'fetch').length === 0) {
      fail(id, new SafeTypeError('Handler does not export a fetch() function.'));
      return;
    }
    if (!gotResponse || !hasResponded(event)) {
      fail(id, new SafeTypeError('No fetch listener called event.respondWith()'));
      return;
    }
    return settle(id, response);
  }
  const ctx = context(id);
  let result: unknown;
  try {
    if ('entrypoint' in handler) {
      // as Workers: a new instance per request, constructed with (ctx, env); fetch gets the request
      const instance = ReflectConstruct(handler.entrypoint, [ctx, env]) as EntrypointInstance;
      if (typeof instance.fetch !== 'function') throw new SafeTypeError('Handler does not export a fetch() function.');
      result = ReflectApply(instance.fetch, instance, [request]);
    } else {
      if (handler.fetch === undefined) throw new SafeTypeError('Handler does not export a fetch() function.');
      result = ReflectApply(handler.fetch, handler.target, [request, env, ctx]);
    }
  } catch (error) {
    fail(id, error);
    return;
  }
  return settle(id, result);
}

/** the `ctx` of a handler call: waitUntil, and passThroughOnException (the host passes the request to its origin if the handler throws) */
function context(id: number) {
  return {
    waitUntil: (p: unknown) => waitUntil(id, p),
    passThroughOnException: () => host('passThrough', id),
  };
}

/**
 * host entry: a cron trigger fired. The run is a request of its own to the host (limits,
 * waitUntil, the ops it makes): it ends when the handler's promise and its waitUntil settle.
 */
export function scheduled(id: number, cron: string, scheduledTime: number): void {
  const pending: Pending = { request: null, finished: false, waits: 0 };
  MapPrototypeSet(requests, id, pending);
  asyncContext.set(undefined);
  const controller = createScheduledController(id, cron, scheduledTime);
  let result: unknown;
  try {
    if (handler === null) throw new SafeTypeError('No handler is bound in this isolate');
    if ('script' in handler) {
      if (listenersOf(globalTarget, 'scheduled').length === 0) {
        throw new SafeTypeError("The script registered no scheduled handler: call addEventListener('scheduled', ...)");
      }
      globalTarget.dispatchEvent(createScheduledEvent(controller, (p) => waitUntil(id, p)));
    } else if ('entrypoint' in handler) {
      const instance = ReflectConstruct(handler.entrypoint, [context(id), env]) as EntrypointInstance;
      if (typeof instance.scheduled !== 'function') throw new SafeTypeError('Handler does not export a scheduled() function.');
      result = ReflectApply(instance.scheduled, instance, [controller]);
    } else {
      if (handler.scheduled === undefined) throw new SafeTypeError('Handler does not export a scheduled() function.');
      result = ReflectApply(handler.scheduled, handler.target, [controller, env, context(id)]);
    }
  } catch (error) {
    fail(id, error);
    return;
  }
  let promise: Promise<unknown>;
  try {
    promise = PromiseResolve(result);
  } catch (error) {
    fail(id, error);
    return;
  }
  PromisePrototypeThen(promise, () => scheduledDone(id), (error) => fail(id, error));
}

/** the scheduled handler returned: answer as a request with no body would */
function scheduledDone(id: number): void {
  const pending = MapPrototypeGet(requests, id);
  if (!pending || pending.finished) return;
  const released = pending.waits === 0;
  if (released) {
    pending.finished = true;
    MapPrototypeDelete(requests, id);
  }
  host('respond', id, 204, '', [], null, released);
}

/** host entry: the request is over (answered, cut or abandoned): abort its signal and forget it */
export function finishRequest(id: number, reason: string | null, timers: number[] | null, ops: number[] | null): void {
  if (timers) for (let i = 0; i < timers.length; i++) forgetTimer(timers[i]);
  // host operations of the request that will never complete now: drop their pending promises
  if (ops) for (let i = 0; i < ops.length; i++) forgetOp(ops[i]);
  const pending = MapPrototypeGet(requests, id);
  if (!pending) return;
  pending.finished = true;
  MapPrototypeDelete(requests, id);
  const signal = reason !== null && pending.request ? requestState(pending.request).signal : null;
  pending.request = null;
  if (signal) abortSignal(signal, new DOMException(reason!, 'AbortError'));
}
