// The WebSockets of one sandbox: the ws* ops (server/bridge/ops.ts), the host sockets they made
// (./socket.ts) and the `socketEvent` entries that tell the isolate what happened to them.
//
// Every host socket belongs to a request (its owner): a WebSocketPair's to the request whose 101
// returned it, an outbound one to the request that opened it. Its events enter the isolate
// charged to that request, which a live socket keeps going past its response as a WebSocket
// session (./run.ts): each inbound message opens a new budget window, and a limit cut ends the
// session, closing its sockets 1011. Ids are this sandbox's own (a map per sandbox): a tenant can
// name no other tenant's socket, whatever number it tries.
import type { SocketEventKind } from '../../bridge/ops';
import { EgressGuard } from '../egress';
import type { IsolateEntry } from '../entry';
import type { Caller, HostOpHandlers, RequestRun, RunResources } from '../run';
import type { SandboxOptions, SocketHooks, UpgradeSocket } from '../types';
import { WebSocketBudget } from './budget';
import { connectOutbound } from './connect';
import { HostSocket, type SocketSink } from './socket';

type WebSocketOps = 'wsPair' | 'wsAccept' | 'wsConnect' | 'wsSend' | 'wsClose' | 'wsBuffered';

export interface SocketParts {
  entry: IsolateEntry;
  /** a request's live sockets changed (one ended): a session without any is over */
  socketsChanged(run: RequestRun): void;
}

export class HostWebSockets implements RunResources {
  readonly #sockets = new Map<number, HostSocket>();
  readonly #options: SandboxOptions;
  readonly #parts: SocketParts;
  readonly #hooks: SocketHooks;
  readonly #guard: EgressGuard;
  readonly #sink: SocketSink;
  #next = 1;
  #open = 0;
  #disposed = false;
  /** resolves closeWebSockets() once every socket ended */
  #allClosed: (() => void) | null = null;

  constructor(options: SandboxOptions, parts: SocketParts) {
    this.#options = options;
    this.#parts = parts;
    this.#hooks = options.webSockets ?? { budget: new WebSocketBudget(options.tenant, options.limits) };
    this.#guard = new EgressGuard(options.egress);
    this.#sink = {
      deliver: (socket, kind, data, code, reason) => this.#deliver(socket, kind, data, code, reason),
      ended: (socket) => this.#ended(socket),
    };
  }

  readonly ops: HostOpHandlers<WebSocketOps> = {
    wsPair: (caller, accepted) => this.#create(requireRun(caller, 'new WebSocketPair()'), 'pair', accepted === true).id,
    wsAccept: (_caller, id) => this.#sockets.get(id)?.accept(),
    wsConnect: (caller, url, protocols, headers, forFetch) =>
      this.#connect(requireRun(caller, 'new WebSocket()'), url, protocols, headers, forFetch === true),
    wsSend: (_caller, id, data) => {
      if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw new TypeError('WebSocket send(): bad data');
      // a socket the host already let go (its close is on its way to the isolate): dropped, as Workers do
      return this.#sockets.get(id)?.send(data) ?? 0;
    },
    wsClose: (_caller, id, code, reason) => this.#sockets.get(id)?.close(Number(code) | 0, String(reason)),
    wsBuffered: (_caller, id) => this.#sockets.get(id)?.buffered ?? 0,
  };

  /** WebSockets open now (coupled or connecting, not yet ended) */
  get open(): number {
    return this.#open;
  }

  /** the tenant's budget (the front refuses an upgrade with 503 while it is full) */
  get budget(): WebSocketBudget {
    return this.#hooks.budget;
  }

  /**
   * A 101 answer of `run` returned pair socket `id`: it becomes `run`'s, live, and waits for the
   * front's upgraded connection. Null when it is not a pair socket of this sandbox still pending.
   */
  couple(run: RequestRun, id: number): UpgradeSocket | null {
    const socket = this.#sockets.get(id);
    if (socket?.kind !== 'pair' || !socket.pending || socket.live || socket.ended) return null;
    if (socket.owner !== run) {
      socket.owner.webSockets.delete(id);
      socket.owner = run;
      run.webSockets.add(id);
    }
    this.#makeLive(socket);
    socket.coupled();
    return {
      attach: (ws) => socket.attach(ws),
      refuse: (reason) => socket.refuse(reason),
    };
  }

  /** the request is over (cut, or its last socket ended): its sockets go, the peers get 1011 when it was cut */
  releaseRun(run: RequestRun, reason: string | null): void {
    const cut = run.limit;
    if (cut && run.session) this.#hooks.cut?.(cut, run.request.id);
    for (const id of [...run.webSockets]) {
      const socket = this.#sockets.get(id);
      if (!socket) continue;
      if (cut) socket.abandon(1011, `${cut.limit} limit exceeded`);
      else socket.abandon(reason === null ? 1000 : 1011, reason === null ? '' : 'the request ended');
    }
    run.webSockets.clear();
  }

  /** closes every socket with `code`, letting the isolate hear each close; the rest are cut after `timeoutMs` */
  closeAll(code: number, reason: string, timeoutMs: number): Promise<void> {
    if (this.#sockets.size === 0) return Promise.resolve();
    const closed = new Promise<void>((resolve) => {
      this.#allClosed = resolve;
    });
    for (const socket of [...this.#sockets.values()]) socket.shutdown(code, reason);
    const timer = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
    return Promise.race([closed, timer]).then(() => {
      for (const socket of [...this.#sockets.values()]) socket.abandon(code, reason);
    });
  }

  /** the sandbox is torn down (memory kill, drain timeout, shutdown): every socket goes now */
  dispose(code = 1012, reason = 'the function was restarted'): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const socket of [...this.#sockets.values()]) socket.abandon(code, reason);
    this.#sockets.clear();
  }

  // ---- inside -------------------------------------------------------------------------------------

  #create(run: RequestRun, kind: 'pair' | 'outbound', accepted: boolean): HostSocket {
    if (this.#disposed) throw new TypeError('WebSocket: the function is shutting down');
    const budget = this.#hooks.budget;
    if (!budget.acquire()) {
      const limit = budget.limits.sockets;
      throw new TypeError(`WebSocket: this function already holds ${budget.open} WebSockets, its limit (${limit})`);
    }
    const socket = new HostSocket(this.#next++, kind, run, budget, this.#sink, accepted);
    this.#sockets.set(socket.id, socket);
    run.webSockets.add(socket.id);
    return socket;
  }

  #connect(run: RequestRun, href: string, protocols: unknown, headers: unknown, forFetch: boolean): number {
    const url = URL.parse(String(href));
    if (url && (url.protocol === 'http:' || url.protocol === 'https:'))
      url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
    if (!url || (url.protocol !== 'ws:' && url.protocol !== 'wss:')) {
      throw new TypeError(`WebSocket: only ws:, wss:, http: and https: URLs can be opened (got ${String(href)})`);
    }
    const limits = run.limits;
    if (run.subrequests >= limits.subrequests) {
      throw new TypeError(`WebSocket: too many subrequests (the limit is ${limits.subrequests} per request)`);
    }
    const socket = this.#create(run, 'outbound', !forFetch);
    run.subrequests++;
    this.#makeLive(socket);
    const request = {
      url,
      protocols: Array.isArray(protocols) ? protocols.map(String) : [],
      headers: Array.isArray(headers) ? headers.map(String) : [],
      timeoutMs: limits.subrequestTimeoutMs,
      maxPayload: this.#hooks.budget.limits.messageBytes,
    };
    connectOutbound(socket, this.#guard, request, forFetch, (status) => this.#options.onSubrequest?.(status));
    return socket.id;
  }

  #makeLive(socket: HostSocket): void {
    socket.live = true;
    socket.owner.sockets++;
    this.#open++;
    this.#hooks.openChanged?.(this.#open);
  }

  #deliver(socket: HostSocket, kind: SocketEventKind, data: unknown, code: number, reason: string): void {
    if (this.#disposed || socket.owner.finished) return;
    this.#parts.entry.enter(socket.owner, 'socketEvent', [socket.id, kind, data, code, reason]);
  }

  #ended(socket: HostSocket): void {
    if (this.#sockets.get(socket.id) === socket) this.#sockets.delete(socket.id);
    socket.owner.webSockets.delete(socket.id);
    this.#hooks.budget.release();
    if (socket.live) {
      socket.live = false;
      socket.owner.sockets--;
      this.#open--;
      this.#hooks.openChanged?.(this.#open);
      if (!this.#disposed) this.#parts.socketsChanged(socket.owner);
    }
    if (this.#sockets.size === 0) this.#allClosed?.();
  }
}

function requireRun(caller: Caller, what: string): RequestRun {
  if (!caller) throw new TypeError(`${what} can only be used while handling a request (not in top-level code)`);
  return caller;
}
