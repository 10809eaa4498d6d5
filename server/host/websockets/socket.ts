// One host socket: the far end of a WebSocket whose near end the isolate holds. For a
// WebSocketPair it is the client's upgraded connection (attached by the front once the 101 is
// written); for `new WebSocket(url)` and fetch() with `Upgrade: websocket` it is the connection
// islet opened (./connect.ts). `ws` does the framing; this class keeps the limits between it and
// the isolate:
//   - events for the isolate wait in an inbox, in order, until the isolate's end is accepted and
//     the tenant's inbound rate lets them through (reads pause meanwhile: the client's TCP
//     window, not the host's memory, absorbs a flood);
//   - messages from the isolate wait in an outbox for the connection and the outbound rate; what
//     waits there plus what the socket has not written yet is bufferedAmount, and past the buffer
//     limit (a peer that does not read) the socket is closed 1013 and dropped;
//   - a message over the size limit closes the socket 1009 (inbound) or throws (outbound);
//   - no message either way for the idle time closes it 1001.
import { WebSocket as NodeWebSocket, type RawData } from 'ws';
import type { SocketEventKind } from '../../bridge/ops';
import { exactBytes } from '../bytes';
import type { RequestRun } from '../run';
import type { WebSocketBudget } from './budget';
import { EventQueue, type SocketEvent } from './event-queue';

export type SocketKind = 'pair' | 'outbound';
type State = 'pending' | 'connecting' | 'open' | 'closing' | 'closed';

/** the sandbox's side of its sockets (./sockets.ts) */
export interface SocketSink {
  /** enters the isolate with one event of `socket`, charged to its owner */
  deliver(socket: HostSocket, kind: SocketEventKind, data: unknown, code: number, reason: string): void;
  /** the socket is over: closed and its close event delivered, or abandoned */
  ended(socket: HostSocket): void;
}

/** a peer that answers nothing gets this long after a close frame before its connection is cut */
const CLOSE_GRACE_MS = 1000;
/** events waiting for the isolate past this count are a flood the pause did not stop: 1008 */
const MAX_INBOX_EVENTS = 50_000;

export class HostSocket {
  readonly id: number;
  readonly kind: SocketKind;
  /** the request the socket belongs to: its events enter the isolate charged to it */
  owner: RequestRun;
  /** counted in owner.sockets: it keeps its request going */
  live = false;
  /** the isolate's end was accepted: its events may be delivered */
  accepted: boolean;
  #state: State;
  #ws: NodeWebSocket | null = null;
  readonly #budget: WebSocketBudget;
  readonly #sink: SocketSink;
  readonly #inbox = new EventQueue();
  #outbox: { data: string | Buffer; bytes: number }[] = [];
  #outBytes = 0;
  #pumpTimer: NodeJS.Timeout | null = null;
  #flushTimer: NodeJS.Timeout | null = null;
  #idleTimer: NodeJS.Timeout | null = null;
  #lastActive = performance.now();
  #pumping = false;
  /** close() of the isolate, done once the outbox is sent */
  #closeWith: { code: number; reason: string } | null = null;
  /** a close islet itself started (idle, slow reader, drain...): what the isolate hears if the peer never answers */
  #localClose: { code: number; reason: string } | null = null;
  /** the close code a protocol error of the peer calls for (1009: its message was too large) */
  #errorCode = 0;
  #ended = false;

  constructor(
    id: number,
    kind: SocketKind,
    owner: RequestRun,
    budget: WebSocketBudget,
    sink: SocketSink,
    accepted: boolean,
  ) {
    this.id = id;
    this.kind = kind;
    this.owner = owner;
    this.#budget = budget;
    this.#sink = sink;
    this.accepted = accepted;
    this.#state = kind === 'pair' ? 'pending' : 'connecting';
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** not yet connected to anything (a pair before its 101 went out) */
  get pending(): boolean {
    return this.#state === 'pending';
  }

  /** bytes sent by the isolate and not yet taken by the network */
  get buffered(): number {
    return this.#outBytes + (this.#ws?.bufferedAmount ?? 0);
  }

  // ---- the connection ---------------------------------------------------------------------------

  /** the connection is there (the client's upgraded one, or the one islet opened): messages flow */
  attach(ws: NodeWebSocket): void {
    if (this.#ended) {
      ws.terminate();
      return;
    }
    this.#ws = ws;
    this.#state = 'open';
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    ws.on('message', (data, isBinary) => this.#received(data, isBinary));
    ws.on('close', (code, reason) => this.#closed(code, reason.toString('utf8')));
    ws.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.#errorCode = 1009;
      this.#queue({ kind: 'error', message: `WebSocket error: ${error.message}` });
    });
    ws.on('ping', () => this.#touch());
    ws.on('pong', () => this.#touch());
    this.#touch();
    this.#armIdle();
    if (!this.accepted) ws.pause();
    if (this.#closeWith) this.#flush(true);
    else this.#flush(false);
  }

  /**
   * The socket was returned in a 101: its connection should follow at once. The idle time runs
   * from now, so a 101 that never reaches a client (a service binding's, a client gone before the
   * handshake was written) does not keep the socket, and its request, forever.
   */
  coupled(): void {
    this.#touch();
    this.#armIdle();
  }

  /** the upgrade did not happen: the isolate's end hears an abnormal close */
  refuse(reason: string): void {
    if (this.#ended || this.#state === 'closed') return;
    this.#state = 'closed';
    this.#queue({ kind: 'close', code: 1006, reason, clean: false });
  }

  /** the isolate's end was accepted: what waited is delivered */
  accept(): void {
    if (this.accepted) return;
    this.accepted = true;
    this.#pump();
  }

  // ---- the isolate's calls ------------------------------------------------------------------------

  /** one message from the isolate; returns bufferedAmount. Throws TypeError for a message over the limit. */
  send(data: string | Uint8Array): number {
    // after the connection ended (or close() was called: the isolate refuses that itself) a
    // message is silently dropped, as Workers do
    if (this.#closeWith || this.#localClose || this.#state === 'closing' || this.#state === 'closed') {
      return this.buffered;
    }
    const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    const limits = this.#budget.limits;
    if (bytes > limits.messageBytes) {
      throw new TypeError(
        `WebSocket send(): the message is ${bytes} bytes, over the limit of ${limits.messageBytes} bytes`,
      );
    }
    this.#touch();
    const payload = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.#outbox.push({ data: payload, bytes });
    this.#outBytes += bytes;
    if (this.buffered > Math.max(limits.bufferBytes, limits.messageBytes)) {
      this.#overflow();
      return this.buffered;
    }
    this.#flush(false);
    return this.buffered;
  }

  /** close() from the isolate: sent after what is still queued; code 0: none */
  close(code: number, reason: string): void {
    if (this.#closeWith || this.#localClose || this.#state === 'closed') return;
    this.#closeWith = { code, reason };
    if (this.#state === 'connecting') this.#ws?.terminate();
    else if (this.#state === 'open') this.#flush(true);
    // pending: the close goes out right after the upgrade (attach)
  }

  // ---- closes started by islet --------------------------------------------------------------------

  /** closes with `code` (idle, drain, restart); the isolate hears the close when the peer answers */
  shutdown(code: number, reason: string): void {
    if (this.#ended || this.#state === 'closed') return;
    this.#localClose = { code, reason };
    const ws = this.#ws;
    if (!ws || this.#state === 'connecting') {
      ws?.terminate();
      this.#state = 'closed';
      this.#queue({ kind: 'close', code, reason, clean: false });
      return;
    }
    this.#state = 'closing';
    ws.close(code, reason);
    setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  /**
   * The socket's request is over (cut by a limit, or its isolate went away): nothing more reaches
   * the isolate; the peer gets `code` and the connection is dropped shortly after.
   */
  abandon(code: number, reason: string): void {
    if (this.#ended) return;
    this.#inbox.clear();
    const ws = this.#ws;
    if (ws && this.#state !== 'closed') {
      if (ws.readyState === NodeWebSocket.OPEN) ws.close(code, reason);
      setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
    }
    this.#state = 'closed';
    this.#end();
  }

  // ---- outbound connections (./connect.ts) ---------------------------------------------------------

  /** the connection islet opened is up: the isolate hears `open` (a fetch() resolves) */
  connected(ws: NodeWebSocket): void {
    if (this.#ended || this.#closeWith) {
      ws.terminate();
      return;
    }
    this.attach(ws);
    this.#sink.deliver(this, 'open', [ws.protocol, ws.extensions], 0, '');
  }

  /** the connection could not be made: the isolate hears an error and an abnormal close */
  connectFailed(message: string): void {
    if (this.#ended) return;
    this.#state = 'closed';
    this.#sink.deliver(this, 'error', null, 0, message);
    if (!this.#ended) this.#sink.deliver(this, 'close', false, 1006, message);
    this.#end();
  }

  /** a fetch() that asked for an upgrade got an ordinary answer: the isolate gets it as a Response */
  answered(answer: [status: number, statusText: string, headers: string[], body: Uint8Array | null]): void {
    if (this.#ended) return;
    this.#state = 'closed';
    this.#sink.deliver(this, 'response', answer, 0, '');
    this.#end();
  }

  // ---- inside -------------------------------------------------------------------------------------

  #received(data: RawData, isBinary: boolean): void {
    if (this.#ended) return;
    this.#touch();
    const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]);
    this.#queue({ kind: 'message', data: isBinary ? exactBytes(bytes) : bytes.toString('utf8') });
    if (this.#inbox.length > MAX_INBOX_EVENTS) this.shutdown(1008, 'too many messages waiting');
  }

  #closed(code: number, reason: string): void {
    if (this.#ended) return;
    this.#state = 'closed';
    this.#clearTimers();
    let clean = code !== 1006;
    if (this.#errorCode && (code === 1006 || code === 1005)) {
      code = this.#errorCode;
      reason = code === 1009 ? 'message too large' : reason;
      clean = false;
    } else if (this.#localClose && (code === 1006 || code === 1005)) {
      ({ code, reason } = this.#localClose);
      clean = false;
    }
    this.#queue({ kind: 'close', code, reason, clean });
  }

  #queue(event: SocketEvent): void {
    this.#inbox.push(event);
    this.#pump();
  }

  /** delivers what waits, as fast as the tenant's inbound rate allows */
  #pump(): void {
    if (this.#pumping || this.#pumpTimer || this.#ended) return;
    if (!this.accepted) {
      // nobody to hear it: a closed socket whose end was never accepted is simply over
      if (this.#state === 'closed') this.#end();
      return;
    }
    this.#pumping = true;
    try {
      for (;;) {
        const event = this.#inbox.peek();
        if (!event) break;
        if (event.kind === 'message') {
          const wait = this.#budget.take('inbound');
          if (wait > 0) {
            this.#ws?.pause();
            this.#pumpTimer = setTimeout(() => {
              this.#pumpTimer = null;
              this.#pump();
            }, wait);
            return;
          }
          this.#touch();
        }
        this.#inbox.shift();
        this.#deliver(event);
        if (this.#ended) return;
        if (event.kind === 'close') {
          this.#end();
          return;
        }
      }
      if (this.#state === 'open') this.#ws?.resume();
    } finally {
      this.#pumping = false;
    }
  }

  #deliver(event: SocketEvent): void {
    switch (event.kind) {
      case 'message':
        this.owner.beginWindow();
        this.#sink.deliver(this, 'message', event.data, 0, '');
        return;
      case 'close':
        this.#sink.deliver(this, 'close', event.clean, event.code, event.reason);
        return;
      case 'error':
        this.#sink.deliver(this, 'error', null, 0, event.message);
    }
  }

  /** sends what the outbox holds as the outbound rate allows (`force`: all of it now, for a close) */
  #flush(force: boolean): void {
    const ws = this.#ws;
    if (!ws || ws.readyState !== NodeWebSocket.OPEN) return;
    while (this.#outbox.length > 0) {
      if (force) this.#budget.passed('outbound');
      else {
        const wait = this.#budget.take('outbound');
        if (wait > 0) {
          this.#flushTimer ??= setTimeout(() => {
            this.#flushTimer = null;
            this.#flush(false);
          }, wait);
          return;
        }
      }
      const item = this.#outbox.shift()!;
      this.#outBytes -= item.bytes;
      ws.send(item.data, { binary: typeof item.data !== 'string' });
    }
    if (this.#closeWith && this.#state === 'open') {
      this.#state = 'closing';
      const { code, reason } = this.#closeWith;
      ws.close(code === 0 ? undefined : code, code === 0 ? undefined : reason);
    }
  }

  /** the peer does not read: tell the isolate, drop what waits, close 1013 and cut the connection */
  #overflow(): void {
    const limit = Math.max(this.#budget.limits.bufferBytes, this.#budget.limits.messageBytes);
    const waiting = this.buffered;
    this.#outbox = [];
    this.#outBytes = 0;
    this.#queue({
      kind: 'error',
      message: `WebSocket: the peer is not reading (${waiting} bytes waiting to be sent, over the limit of ${limit})`,
    });
    this.shutdown(1013, 'the peer is not reading');
  }

  #touch(): void {
    this.#lastActive = performance.now();
  }

  #armIdle(): void {
    const idleMs = this.#budget.limits.idleMs;
    const check = (): void => {
      this.#idleTimer = null;
      if (this.#ended || this.#state === 'closed') return;
      const quiet = performance.now() - this.#lastActive;
      if (quiet >= idleMs) this.shutdown(1001, 'idle timeout');
      else this.#idleTimer = setTimeout(check, idleMs - quiet + 1).unref();
    };
    this.#idleTimer = setTimeout(check, idleMs).unref();
  }

  #clearTimers(): void {
    for (const timer of [this.#idleTimer, this.#flushTimer, this.#pumpTimer]) if (timer) clearTimeout(timer);
    this.#idleTimer = this.#flushTimer = this.#pumpTimer = null;
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#clearTimers();
    this.#inbox.clear();
    this.#outbox = [];
    this.#outBytes = 0;
    this.#sink.ended(this);
  }
}
