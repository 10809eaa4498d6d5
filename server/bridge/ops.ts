// Every operation a tenant isolate can ask of the host, declared once, as Deno declares its named
// ops: the name, the argument tuple, the result, and whether the result arrives later. Both
// ends are type-checked against this file: the shims' host()/hostAsync() calls
// (runtime-shims/internal/bridge.ts imports it type-only, so nothing of it reaches the bundle)
// and the host's handler table (server/bridge/table.ts, handlers in server/host/). The entry
// points the other way, host into isolate, are declared here too (IsolateEntries).
//
// A call crosses as `bridge(name, ...args)`, synchronously, with its arguments copied. An op
// declared `now` answers within the call. An op declared `later` answers at once with an op id;
// its result (or its failure, as [error name, message]) arrives through the `complete` entry.
// Adding an op = one line here + one handler in the host room that owns its concern.
//
// Only plain values cross: this file must stay free of Node and DOM types, since both the
// server's and the shims' compilers read it.

/** One declared operation. `Args` and `Result` are types only; `arity` and `later` exist at run time. */
export interface OpDeclaration<Args extends readonly unknown[], Result, Later extends boolean> {
  /** how many arguments every call carries; the type checker keeps it equal to the length of Args */
  readonly arity: Args['length'];
  /** true: the call returns an op id, and the result comes later through the `complete` entry */
  readonly later: Later;
  /** never set: carries the signature for the type checker */
  readonly signature?: (...args: Args) => Result;
}

/** an operation answered within the call */
function now<Args extends readonly unknown[], Result = void>(
  arity: Args['length'],
): OpDeclaration<Args, Result, false> {
  return { arity, later: false };
}

/** an operation that returns an op id at once and completes later */
function later<Args extends readonly unknown[], Result>(arity: Args['length']): OpDeclaration<Args, Result, true> {
  return { arity, later: true };
}

// ---- values that cross ------------------------------------------------------------------------

/**
 * A body as the isolate hands it over: none, text, bytes, the id of an isolate stream the host
 * pulls (a sink), or a host byte source passed back untouched (the host pipes it itself).
 */
/** a TextDecoder call the host refused: the name of the error the isolate throws, and its message */
export type DecodeAnswer = [name: 'TypeError' | 'QuotaExceededError', message: string];

export type HostBody = null | string | Uint8Array | number | { source: number };

/** what a handler's Response answers with: a body, or (a 101) a WebSocket */
export type ResponseBody = HostBody | WebSocketBody;

/** a 101 answer's body: the host socket (a WebSocketPair's, made by `wsPair`) the client's connection is coupled to */
export interface WebSocketBody {
  webSocket: number;
}

/** a failed later op, as the isolate rebuilds it: [error name, message] */
export type ErrorParts = [name: string, message: string];

/** how an in-flight later op is aborted */
export type AbortName = 'AbortError' | 'TimeoutError';

export type RedirectMode = 'follow' | 'error' | 'manual';

/**
 * A fetch() response: its body stays on the host as a byte source the isolate reads (an id),
 * or arrives whole with the head when it was small and announced by its length, or is absent.
 */
export type FetchAnswer = [
  status: number,
  statusText: string,
  headers: string[],
  body: number | Uint8Array | null,
  urlList: string[],
  redirected: boolean,
];

/**
 * What request.cf is made of, built into an object only when the function reads it
 * (runtime-shims/fetch/request-cf.ts): the HTTP version alone (the common case), or
 * [httpProtocol, JSON of a trusted proxy's whole cf object or null, field, value, field, value...],
 * or null (no field: a service binding call, say).
 */
export type CfFlat = string | (string | number | null)[] | null;

/** URL components in the order runtime-shims/url/url.ts reads them */
export type UrlParts = string[];

/** unzip: gzip or deflate, as the header says (node:zlib's Unzip; decompression only) */
export type ZlibFormat = 'gzip' | 'deflate' | 'deflate-raw' | 'brotli' | 'unzip';
export type ZlibMode = 'compress' | 'decompress';
/** node:zlib's tuning options of one stream, as the isolate sends them (checked by host/zlib-options.ts) */
export interface ZlibTuning {
  level?: number;
  windowBits?: number;
  memLevel?: number;
  strategy?: number;
  /** brotli: BROTLI_PARAM_* id -> value */
  params?: Record<string, number>;
}
/**
 * what one written piece produced, and the message of the TypeError the stream fails with after
 * it (null when none): data after the end of a compressed stream is refused only once the output
 * before it was delivered, as the Compression standard orders
 */
export type ZlibOutput = [output: Uint8Array, failure: string | null];

/**
 * What the host tells the isolate about one of its WebSockets (the `socketEvent` entry), with the
 * entry's `data`: open [protocol, extensions]; message (text or bytes); close (wasClean, with the
 * entry's code and reason); error (the entry's reason is the message); response (a fetch() that
 * asked for an upgrade got an ordinary answer: FetchAnswer-like [status, statusText, headers, body]).
 */
export type SocketEventKind = 'open' | 'message' | 'close' | 'error' | 'response';
/** what a KV read returns: text for 'text'/'json', bytes for 'arrayBuffer'/'stream' */
export type KvValueType = 'text' | 'json' | 'arrayBuffer' | 'stream';
/** [value (null: no such key), metadata as JSON text (null: none)] */
export type KvGetAnswer = [value: string | Uint8Array | null, metadata: string | null];
/** one listed key: [name, expiration in seconds since the epoch or null, metadata as JSON text or null] */
export type KvListedKey = [name: string, expiration: number | null, metadata: string | null];
export type KvListAnswer = [keys: KvListedKey[], complete: boolean, cursor: string | null];
/** a cached response: [status, statusText, headers, body] */
export type CachedAnswer = [status: number, statusText: string, headers: string[], body: Uint8Array | null];

/** a handler's answer: [status, statusText, headers, body, released (the isolate forgot the request)] */
export type ResponseAnswer = [
  status: number,
  statusText: string,
  headers: string[],
  body: ResponseBody,
  released: boolean,
];

// ---- the operations ---------------------------------------------------------------------------

export const hostOps = {
  // requests (runtime/dispatch.ts)
  /** the handler's Response is ready (a Response returned synchronously comes back as dispatch's result instead) */
  respond: now<[request: number, ...answer: ResponseAnswer]>(6),
  /** the handler threw or returned no Response */
  fail: now<[request: number, message: string, stack: string]>(3),
  /** a waitUntil promise started (+1) or settled (-1) */
  wait: now<[request: number, delta: number]>(2),

  // console
  log: now<[level: string, message: string]>(2),
  // a promise was rejected with no handler (or a reported one got a handler): after this entry,
  // the host calls the `rejections` entry
  rejectionsPending: now<[]>(0),

  // timers: the host owns the clock and attributes each timer to the request that set it
  timer: now<[timer: number, ms: number, repeat: boolean]>(3),
  clearTimer: now<[timer: number]>(1),

  // host byte sources (request bodies, fetch response bodies) read by the isolate: null at the end
  read: later<[source: number], Uint8Array | null>(1),
  cancelSource: now<[source: number]>(1),
  // isolate streams pulled by the host: the answer to a `pull` entry
  chunk: now<[sink: number, done: boolean, bytes: Uint8Array | null, error: string | null]>(4),

  // fetch
  fetch: later<[method: string, url: string, headers: string[], body: HostBody, redirect: RedirectMode], FetchAnswer>(
    5,
  ),
  /** aborts a later op, or the body of a fetch whose response already arrived */
  abortOp: now<[op: number, name: AbortName]>(2),

  // CompressionStream / DecompressionStream: each write (a piece of at most 256 KiB) answers with
  // the output produced so far; the work is charged to the request (CPU) and the isolate (memory)
  // (node:zlib's streams and callback forms too, with checked tuning options: host/zlib-options.ts)
  zlibOpen: now<[format: ZlibFormat, mode: ZlibMode, options: ZlibTuning | null], number>(3),
  // node:zlib's *Sync forms: one whole input (at most 4 MiB) in one call, inside the tenant's entry;
  // a refusal is [error name, message, node:zlib's code (Z_DATA_ERROR...) or null]
  zlibSync: now<
    [format: ZlibFormat, mode: ZlibMode, options: ZlibTuning | null, input: Uint8Array],
    Uint8Array | [name: string, message: string, code: string | null]
  >(4),
  zlibWrite: later<[stream: number, chunk: Uint8Array], ZlibOutput>(2),
  zlibEnd: later<[stream: number], Uint8Array>(1),
  zlibClose: now<[stream: number]>(1),

  // crypto: `subtle` runs one SubtleCrypto method on the host, keys stay there as handles
  subtle: later<[method: string, args: unknown[]], unknown>(2),
  random: now<[length: number], Uint8Array>(1),
  uuid: now<[], string>(0),

  // values computed by Node: WHATWG URL, long UTF-8 strings, structured clone (the copy is the clone)
  url: now<[input: string, base: string | undefined], UrlParts | null>(2),
  urlSet: now<[href: string, name: string, value: string], UrlParts | null>(3),
  clone: now<[value: unknown], unknown>(1),
  utf8Encode: now<[text: string], Uint8Array>(1),
  utf8Decode: now<[bytes: Uint8Array, fatal: boolean], string | null>(2),
  // TextDecoder for the Encoding Standard's other encodings (host/text-decoders.ts): the encoding a
  // label names (null: none, or replacement), a whole decode, and a streaming decoder held on the
  // host (0: open one; answers [its id, text]); a refusal is [error name, message] (TypeError
  // 'invalid': invalid data under `fatal`)
  textEncoding: now<[label: string], string | null>(1),
  textDecode: now<[encoding: string, fatal: boolean, ignoreBOM: boolean, bytes: Uint8Array], string | DecodeAnswer>(4),
  textDecodeStream: now<
    [decoder: number, encoding: string, fatal: boolean, ignoreBOM: boolean, bytes: Uint8Array, end: boolean],
    [decoder: number, text: string] | DecodeAnswer
  >(6),

  // WebSockets (server/host/websockets/): a host socket stands for the far end of a connection
  // the isolate holds one end of; its events come back through the `socketEvent` entry
  /** a WebSocketPair end goes to the network (returned in a 101): the host socket's id */
  wsPair: now<[accepted: boolean], number>(1),
  /** the isolate's end of host socket `socket` was accepted: its events may be delivered */
  wsAccept: now<[socket: number]>(1),
  /** new WebSocket(url) (forFetch false) or fetch() with Upgrade: websocket: a host socket connecting now */
  wsConnect: now<[url: string, protocols: string[], headers: string[], forFetch: boolean], number>(4),
  /** one message out; returns the bytes now buffered for the socket (bufferedAmount) */
  wsSend: now<[socket: number, data: string | Uint8Array], number>(2),
  /** close() (code 0: none given) */
  wsClose: now<[socket: number, code: number, reason: string]>(3),
  /** bytes buffered for the socket, not yet handed to the network */
  wsBuffered: now<[socket: number], number>(1),
  // bindings (server/bindings/): a binding is named as the function's env names it; the host
  // knows what it stands for (a namespace of this tenant, another tenant), the isolate never does
  kvGet: later<[binding: string, key: string, type: KvValueType, cacheTtl: number | null], KvGetAnswer>(4),
  kvPut: later<
    [
      binding: string,
      key: string,
      value: string | Uint8Array,
      expiration: number | null,
      expirationTtl: number | null,
      metadata: string | null,
    ],
    null
  >(6),
  kvDelete: later<[binding: string, key: string], null>(2),
  kvList: later<[binding: string, prefix: string | null, limit: number | null, cursor: string | null], KvListAnswer>(4),
  /** Cache API: `cache` is '' for caches.default, else the caches.open() name */
  cacheMatch: later<[cache: string, url: string, headers: string[]], CachedAnswer | null>(3),
  cachePut: later<
    [cache: string, url: string, status: number, statusText: string, headers: string[], body: Uint8Array | null],
    null
  >(6),
  cacheDelete: later<[cache: string, url: string], boolean>(2),
  /** env.SERVICE.fetch(): the other tenant answers as it would a request from the network */
  serviceFetch: later<
    [binding: string, method: string, url: string, headers: string[], body: HostBody, redirect: RedirectMode],
    FetchAnswer
  >(6),
  /** ctx.passThroughOnException(): an uncaught exception passes the request to its origin */
  passThrough: now<[request: number]>(1),
  /** controller.noRetry() in a scheduled handler */
  noRetry: now<[request: number]>(1),
};

export type HostOps = typeof hostOps;
export type OpName = keyof HostOps;
export type OpArgs<N extends OpName> = HostOps[N] extends OpDeclaration<infer Args, infer _, boolean> ? Args : never;
export type OpResult<N extends OpName> =
  HostOps[N] extends OpDeclaration<infer _, infer Result, boolean> ? Result : never;
/** the ops answered within the call */
export type NowOpName = { [N in OpName]: HostOps[N]['later'] extends false ? N : never }[OpName];
/** the ops that complete later */
export type LaterOpName = { [N in OpName]: HostOps[N]['later'] extends true ? N : never }[OpName];

// ---- the entries: the host calls into the isolate only through these -------------------------

/** What the shims' install() hands back; the host keeps a reference to each and enters through it. */
export interface IsolateEntries {
  /**
   * a request arrives; its body is null, the id of a host source, or the whole body; a handler
   * that answered synchronously returns its answer
   */
  dispatch(
    request: number,
    method: string,
    url: string,
    headers: string[],
    body: number | Uint8Array | null,
    cf: CfFlat,
  ): ResponseAnswer | undefined;
  /** a cron trigger fired: the `scheduled` handler runs as request `request`, answered like one */
  scheduled(request: number, cron: string, scheduledTime: number): void;
  /** a later op finished: `value` is its result, or ErrorParts when `ok` is false */
  complete(op: number, ok: boolean, value: unknown): void;
  /** timer `timer` is due */
  fire(timer: number): void;
  /** something happened to host socket `socket` (see SocketEventKind for `data`) */
  socketEvent(socket: number, kind: SocketEventKind, data: unknown, code: number, reason: string): void;
  /** the host wants the next chunk of sink `sink` (answered with the `chunk` op) */
  pull(sink: number): void;
  /** the host no longer wants sink `sink` */
  cancel(sink: number, reason: string): void;
  /** the request is over: forget it and what it owned; a reason aborts its signal */
  finish(request: number, reason: string | null, timers: number[] | null, ops: number[] | null): void;
  /** promises were rejected with no handler: fire unhandledrejection / rejectionhandled, log the unhandled */
  rejections(): void;
  /** binds the default export of the evaluated entry module (a namespace reference, dereferenced in the isolate) */
  bindModule(namespace: unknown): void;
  /** binds the fetch listener a classic script registered */
  bindScript(): void;
}

export type EntryName = keyof IsolateEntries;
export type EntryArgs<E extends EntryName> = Parameters<IsolateEntries[E]>;
export type EntryResult<E extends EntryName> = ReturnType<IsolateEntries[E]>;

/** every entry name, for the host to fetch their references once per sandbox */
export const entryNames = Object.keys({
  dispatch: true,
  scheduled: true,
  complete: true,
  fire: true,
  socketEvent: true,
  pull: true,
  cancel: true,
  finish: true,
  rejections: true,
  bindModule: true,
  bindScript: true,
} satisfies Record<EntryName, true>) as EntryName[];
