// WebSocket, WebSocketPair and CloseEvent as Cloudflare Workers have them (workerd's
// api/web-socket.h is the reference for messages and states):
//   - `new WebSocketPair()` gives two connected ends; the function accept()s one and returns the
//     other in `new Response(null, { status: 101, webSocket })`, which the host couples to the
//     client's upgraded connection. Both ends accepted here talk to each other in the isolate.
//   - `new WebSocket(url)` connects out (open, then messages); fetch() with `Upgrade: websocket`
//     resolves to a 101 Response whose `webSocket` must be accept()ed first.
//   - events: open, message (data: string, or ArrayBuffer / Blob by binaryType), close
//     (CloseEvent: code, reason, wasClean), error; `onmessage`-style handler attributes too.
// An end talks to the host through a host socket (its id, a number of this sandbox's own); the
// host's `socketEvent` entry delivers what happens to it. Messages sent to a pair end whose fate
// is not known yet (neither accepted nor returned) wait here, in the isolate's own memory.
import { host } from '../internal/bridge';
import { Event, EventTarget } from '../events/event-target';
import { ErrorEvent, MessageEvent } from '../events/message-events';
import { DOMException } from '../events/dom-exception';
import { URL } from '../url/url';
import { Blob } from '../fetch/blob';
import { utf8Encode } from '../encoding/utf8';
import { queueMicrotask } from '../timers/timers';
import {
  SafeMap,
  MapPrototypeGet,
  MapPrototypeSet,
  MapPrototypeDelete,
  SafeTypeError,
  SafeError,
  SafePromise,
  SafeUint8Array,
  SafeArrayBuffer,
  ArrayBufferIsView,
  ArrayIsArray,
  ArrayPrototypeSlice,
  ObjectCreate,
  ObjectDefineProperty,
  ReflectApply,
  RegExpPrototypeTest,
  NumberIsInteger,
  StringPrototypeIncludes,
  TypedArrayPrototypeSlice,
  append,
} from '../internal/primordials';
import type { SocketEventKind } from '../../server/bridge/ops';

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** what waits for a pair end whose fate is not known yet */
type Queued = { message: string | Uint8Array } | { close: [code: number, reason: string] };

interface SocketState {
  /** pair: a WebSocketPair end; outbound: new WebSocket(); fetched: from fetch() */
  kind: 'pair' | 'outbound' | 'fetched';
  url: string | null;
  protocol: string;
  extensions: string;
  binaryType: 'arraybuffer' | 'blob';
  /** the other end of a pair */
  peer: WebSocket | null;
  /** the host socket (0: none yet) */
  hostId: number;
  accepted: boolean;
  /** returned in a Response: the network holds this end now */
  released: boolean;
  connecting: boolean;
  closedOutgoing: boolean;
  closedIncoming: boolean;
  errored: boolean;
  /** sent before the peer was accepted or returned */
  queue: Queued[];
  handlers: Record<string, unknown>;
}

const internal = Symbol('internal');
const sockets = new SafeMap<number, WebSocket>();
/** what a fetch() with `Upgrade: websocket` gets: the connection, or the server's ordinary answer */
export type FetchedSocket =
  | { webSocket: WebSocket; protocol: string }
  | { answer: [status: number, statusText: string, headers: string[], body: Uint8Array | null] };
/** fetch() calls waiting for their host socket's handshake */
const fetches = new SafeMap<number, { resolve(value: FetchedSocket): void; reject(error: unknown): void }>();
let stateOf: (ws: WebSocket) => SocketState;
let isSocket: (value: unknown) => value is WebSocket;

function newState(kind: SocketState['kind'], url: string | null): SocketState {
  return {
    kind,
    url,
    protocol: '',
    extensions: '',
    binaryType: 'arraybuffer',
    peer: null,
    hostId: 0,
    accepted: kind === 'outbound',
    released: false,
    connecting: kind === 'outbound',
    closedOutgoing: false,
    closedIncoming: false,
    errored: false,
    queue: [],
    handlers: ObjectCreate(null) as Record<string, unknown>,
  };
}

const tokenPattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function syntaxError(message: string): DOMException {
  return new DOMException(`WebSocket Constructor: ${message}`, 'SyntaxError');
}

export class WebSocket extends EventTarget {
  #s: SocketState;
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
  static readonly READY_STATE_CONNECTING = CONNECTING;
  static readonly READY_STATE_OPEN = OPEN;
  static readonly READY_STATE_CLOSING = CLOSING;
  static readonly READY_STATE_CLOSED = CLOSED;

  constructor(url: unknown, protocols?: unknown) {
    super();
    if (url === internal) {
      this.#s = protocols as SocketState;
      return;
    }
    if (arguments.length === 0)
      throw new SafeTypeError("Failed to construct 'WebSocket': 1 argument required, but only 0 present.");
    let parsed: URL;
    try {
      parsed = new URL(String(url));
    } catch {
      throw syntaxError('The url is invalid.');
    }
    const scheme = parsed.protocol;
    if (scheme !== 'ws:' && scheme !== 'wss:' && scheme !== 'http:' && scheme !== 'https:') {
      throw syntaxError('The url scheme must be ws or wss.');
    }
    if (StringPrototypeIncludes(String(url), '#')) throw syntaxError('The url fragment must be empty.');
    const list = protocolList(protocols);
    this.#s = newState('outbound', parsed.href);
    this.#s.hostId = host('wsConnect', parsed.href, list, [], false);
    MapPrototypeSet(sockets, this.#s.hostId, this);
  }

  get readyState(): number {
    const s = this.#s;
    if ((s.closedIncoming && s.closedOutgoing) || s.errored) return CLOSED;
    if (s.closedIncoming || s.closedOutgoing) return CLOSING;
    if (s.connecting) return CONNECTING;
    return OPEN;
  }
  get url(): string | null {
    return this.#s.url;
  }
  get protocol(): string {
    return this.#s.protocol;
  }
  get extensions(): string {
    return this.#s.extensions;
  }
  get binaryType(): string {
    return this.#s.binaryType;
  }
  set binaryType(value: string) {
    // per the standard, a value other than these two is ignored
    if (value === 'arraybuffer' || value === 'blob') this.#s.binaryType = value;
  }
  get bufferedAmount(): number {
    const id = hostIdOf(this.#s);
    return id === 0 ? 0 : host('wsBuffered', id);
  }

  /** begins delivering this end's events here (a WebSocketPair end, or one fetch() returned) */
  accept(_options?: unknown): void {
    const s = this.#s;
    if (s.kind === 'outbound')
      throw new SafeTypeError("Websockets obtained from the 'new WebSocket()' constructor cannot call accept");
    if (s.released) throw new SafeTypeError("Can't accept() WebSocket that was already used in a response.");
    if (s.accepted) return;
    s.accepted = true;
    if (s.kind === 'fetched') {
      host('wsAccept', s.hostId);
      return;
    }
    const peer = stateOf(s.peer!);
    if (peer.accepted) {
      // both ends here: what each sent while the other was undecided is delivered now
      flushLocal(s.peer!, this);
      flushLocal(this, s.peer!);
    } else if (peer.released) host('wsAccept', peer.hostId);
  }

  send(data: unknown): void {
    const s = this.#s;
    if (s.released) return;
    if (s.connecting) {
      throw new DOMException(
        "Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.",
        'InvalidStateError',
      );
    }
    if (s.closedOutgoing) throw new SafeTypeError("Can't call WebSocket send() after close().");
    if (!s.accepted) throw new SafeTypeError('You must call accept() on this WebSocket before sending messages.');
    // the connection ended: dropped, as Workers do
    if (s.closedIncoming || s.errored) return;
    route(this, s, { message: payloadOf(data) });
  }

  close(code?: unknown, reason?: unknown): void {
    const s = this.#s;
    let c = 0;
    if (code !== undefined) {
      c = Number(code);
      const valid =
        NumberIsInteger(c) &&
        ((c >= 1000 && c <= 1014 && c !== 1004 && c !== 1005 && c !== 1006) || (c >= 3000 && c <= 4999));
      if (!valid) throw new DOMException(`Invalid WebSocket close code: ${String(code)}.`, 'InvalidAccessError');
    }
    const text = reason === undefined ? '' : String(reason);
    if (reason !== undefined && code === undefined) {
      throw new DOMException(
        'If you specify a WebSocket close reason, you must also specify a code.',
        'InvalidAccessError',
      );
    }
    if (utf8Encode(text).length > 123) {
      throw new DOMException(
        'WebSocket close reason must not be longer than 123 bytes when UTF-8 encoded.',
        'SyntaxError',
      );
    }
    if (s.connecting) {
      s.closedOutgoing = true;
      host('wsClose', s.hostId, c, text);
      return;
    }
    if (s.closedOutgoing || s.released || s.errored) return;
    if (!s.accepted) throw new SafeTypeError('You must call accept() on this WebSocket before sending messages.');
    s.closedOutgoing = true;
    route(this, s, { close: [c, text] });
  }

  static {
    stateOf = (ws) => ws.#s;
    isSocket = (value): value is WebSocket => typeof value === 'object' && value !== null && #s in value;
  }
}
ObjectDefineProperty(WebSocket.prototype, Symbol.toStringTag, { value: 'WebSocket', configurable: true });
for (const type of ['open', 'message', 'close', 'error']) defineHandler(type);

/** `onmessage = fn` and the like: the handler is one listener, added when first set */
function defineHandler(type: string): void {
  ObjectDefineProperty(WebSocket.prototype, `on${type}`, {
    configurable: true,
    enumerable: true,
    get(this: WebSocket) {
      return stateOf(this).handlers[type] ?? null;
    },
    set(this: WebSocket, value: unknown) {
      const handlers = stateOf(this).handlers;
      const fresh = !(type in handlers);
      handlers[type] = typeof value === 'function' ? value : null;
      if (fresh) {
        this.addEventListener(type, (event: Event) => {
          const handler = handlers[type];
          if (typeof handler === 'function') ReflectApply(handler, this, [event]);
        });
      }
    },
  });
}

function protocolList(protocols: unknown): string[] {
  if (protocols === undefined) return [];
  const list: string[] =
    typeof protocols === 'string'
      ? [protocols]
      : ArrayIsArray(protocols)
        ? ArrayPrototypeSlice(protocols)
        : [String(protocols)];
  const seen = new SafeMap<string, true>();
  for (let i = 0; i < list.length; i++) {
    const p = String(list[i]);
    if (!RegExpPrototypeTest(tokenPattern, p)) throw syntaxError('One of the protocol header tokens is invalid.');
    if (MapPrototypeGet(seen, p)) throw syntaxError('The protocols header cannot have repeating values.');
    MapPrototypeSet(seen, p, true);
    list[i] = p;
  }
  return list;
}

/** a message as it crosses: text, or bytes that own their whole buffer (a view's other bytes stay here) */
function payloadOf(data: unknown): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (data instanceof SafeArrayBuffer) return new SafeUint8Array(data);
  if (ArrayBufferIsView(data)) {
    const view = data as ArrayBufferView;
    const bytes = new SafeUint8Array(view.buffer, view.byteOffset, view.byteLength);
    return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength
      ? bytes
      : TypedArrayPrototypeSlice(bytes);
  }
  return String(data);
}

function hostIdOf(s: SocketState): number {
  if (s.kind !== 'pair') return s.hostId;
  return s.peer ? stateOf(s.peer).hostId : 0;
}

/** where a message or close of end `ws` goes: the host socket, the peer here, or the queue */
function route(ws: WebSocket, s: SocketState, item: Queued): void {
  if (s.kind !== 'pair') {
    toHost(s.hostId, item);
    return;
  }
  const peer = s.peer!;
  const p = stateOf(peer);
  if (p.released) toHost(p.hostId, item);
  else if (p.accepted) deliverLocal(ws, peer, item);
  else append(s.queue, item);
}

function toHost(id: number, item: Queued): void {
  if ('message' in item) host('wsSend', id, item.message);
  else host('wsClose', id, item.close[0], item.close[1]);
}

/** what `from` queued, delivered to its peer `to` (both ends are here) */
function flushLocal(from: WebSocket, to: WebSocket): void {
  const s = stateOf(from);
  const queue = s.queue;
  s.queue = [];
  for (let i = 0; i < queue.length; i++) deliverLocal(from, to, queue[i]);
}

/** both ends of a pair here: the peer hears it on a later microtask, as from a connection */
function deliverLocal(from: WebSocket, to: WebSocket, item: Queued): void {
  queueMicrotask(() => {
    const t = stateOf(to);
    if (t.closedIncoming) return;
    if ('message' in item) {
      to.dispatchEvent(messageEvent(t, item.message));
      return;
    }
    // a close: the peer hears it, answers with the same close, and the sender hears that
    t.closedIncoming = true;
    const echo = !t.closedOutgoing;
    t.closedOutgoing = true;
    to.dispatchEvent(closeEvent(item.close[0] || 1005, item.close[1], true));
    if (echo) deliverLocal(to, from, item);
  });
}

function messageEvent(s: SocketState, data: string | Uint8Array): MessageEvent {
  if (typeof data === 'string') return new MessageEvent('message', { data });
  const buffer =
    data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
      ? data.buffer
      : TypedArrayPrototypeSlice(data).buffer;
  return new MessageEvent('message', { data: s.binaryType === 'blob' ? new Blob([buffer]) : buffer });
}

function closeEvent(code: number, reason: string, wasClean: boolean): CloseEvent {
  return new CloseEvent('close', { code, reason, wasClean });
}

export class CloseEvent extends Event {
  #code: number;
  #reason: string;
  #wasClean: boolean;
  constructor(
    type: string,
    init?: { code?: number; reason?: string; wasClean?: boolean; bubbles?: boolean; cancelable?: boolean },
  ) {
    if (arguments.length === 0)
      throw new SafeTypeError("Failed to construct 'CloseEvent': 1 argument required, but only 0 present.");
    super(type, init);
    this.#code = (init?.code ?? 0) | 0;
    this.#reason = init?.reason === undefined ? '' : String(init.reason);
    this.#wasClean = !!init?.wasClean;
  }
  get code(): number {
    return this.#code;
  }
  get reason(): string {
    return this.#reason;
  }
  get wasClean(): boolean {
    return this.#wasClean;
  }
}

export class WebSocketPair {
  declare 0: WebSocket;
  declare 1: WebSocket;
  constructor() {
    const first = new WebSocket(internal, newState('pair', null));
    const second = new WebSocket(internal, newState('pair', null));
    stateOf(first).peer = second;
    stateOf(second).peer = first;
    // own, enumerable, read-only: `Object.values(new WebSocketPair())` is how most code takes them
    ObjectDefineProperty(this, 0, { value: first, enumerable: true });
    ObjectDefineProperty(this, 1, { value: second, enumerable: true });
  }
  *[Symbol.iterator](): IterableIterator<WebSocket> {
    yield this[0];
    yield this[1];
  }
}

export function isWebSocket(value: unknown): value is WebSocket {
  return isSocket(value);
}

/**
 * `new Response(null, { status: 101, webSocket })` is being answered: `ws` (a pair end, neither
 * accepted nor returned before) goes to the network; returns the host socket the client's
 * connection will be coupled to. What its peer sent meanwhile follows it to the host.
 */
export function releaseForResponse(ws: WebSocket): number {
  const s = stateOf(ws);
  if (s.kind === 'outbound')
    throw new SafeTypeError("Can't return WebSocket in a Response if it was created with `new WebSocket()`");
  if (s.kind === 'fetched') {
    throw new SafeTypeError(
      'islet cannot return a WebSocket that fetch() opened in a Response yet: accept() it and relay its messages',
    );
  }
  if (s.released) throw new SafeTypeError("Can't return WebSocket that was already used in a response.");
  if (s.accepted) throw new SafeTypeError("Can't return WebSocket in a Response after calling accept().");
  const peer = stateOf(s.peer!);
  if (peer.released) throw new SafeTypeError('The other end of this WebSocketPair was already returned in a response.');
  s.released = true;
  const id = host('wsPair', peer.accepted);
  s.hostId = id;
  MapPrototypeSet(sockets, id, s.peer!);
  const queue = peer.queue;
  peer.queue = [];
  for (let i = 0; i < queue.length; i++) toHost(id, queue[i]);
  return id;
}

/**
 * fetch() with `Upgrade: websocket`: the connection's WebSocket (to accept() before use) once
 * the server answered 101, or the server's ordinary answer; `abort()` gives the attempt up.
 */
export function fetchWebSocket(url: string, headers: string[]): { promise: Promise<FetchedSocket>; abort(): void } {
  const id = host('wsConnect', url, [], headers, true);
  const state = newState('fetched', url);
  state.hostId = id;
  state.connecting = true;
  MapPrototypeSet(sockets, id, new WebSocket(internal, state));
  const promise = new SafePromise<FetchedSocket>((resolve, reject) =>
    MapPrototypeSet(fetches, id, { resolve, reject }),
  );
  return {
    promise,
    abort: () => {
      const waiting = MapPrototypeGet(fetches, id);
      if (!waiting) return;
      MapPrototypeDelete(fetches, id);
      MapPrototypeDelete(sockets, id);
      host('wsClose', id, 0, '');
    },
  };
}

/** host entry: something happened to host socket `id` */
export function socketEvent(id: number, kind: SocketEventKind, data: unknown, code: number, reason: string): void {
  const ws = MapPrototypeGet(sockets, id);
  if (ws === undefined) return;
  const s = stateOf(ws);
  const waiting = MapPrototypeGet(fetches, id);
  switch (kind) {
    case 'open': {
      s.connecting = false;
      const [protocol, extensions] = data as [string, string];
      s.protocol = protocol;
      s.extensions = extensions;
      if (waiting) {
        MapPrototypeDelete(fetches, id);
        waiting.resolve({ webSocket: ws, protocol });
      } else ws.dispatchEvent(new Event('open'));
      return;
    }
    case 'message':
      if (!s.closedIncoming) ws.dispatchEvent(messageEvent(s, data as string | Uint8Array));
      return;
    case 'close':
      MapPrototypeDelete(sockets, id);
      s.connecting = false;
      s.closedIncoming = true;
      s.closedOutgoing = true;
      if (waiting) {
        MapPrototypeDelete(fetches, id);
        waiting.reject(new SafeTypeError(reason || 'the WebSocket connection closed before it opened'));
        return;
      }
      ws.dispatchEvent(closeEvent(code, reason, data === true));
      return;
    case 'error':
      s.errored = true;
      if (waiting) {
        MapPrototypeDelete(fetches, id);
        waiting.reject(new SafeTypeError(reason));
        return;
      }
      ws.dispatchEvent(new ErrorEvent('error', { message: reason, error: new SafeError(reason) }));
      return;
    case 'response':
      MapPrototypeDelete(sockets, id);
      if (waiting) {
        MapPrototypeDelete(fetches, id);
        waiting.resolve({ answer: data as [number, string, string[], Uint8Array | null] });
      }
  }
}
