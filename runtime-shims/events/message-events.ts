// The event classes of the HTML standard a worker meets: MessageEvent (MessagePort, EventSource),
// ErrorEvent (reportError, the global 'error' event) and PromiseRejectionEvent.
import { Event } from './event-target';
import { SafeTypeError, ArrayIsArray, ArrayPrototypeSlice, ObjectFreeze } from '../internal/primordials';

type EventInit = { bubbles?: boolean; cancelable?: boolean; composed?: boolean };

export class MessageEvent<T = unknown> extends Event {
  #data: T | null;
  #origin: string;
  #lastEventId: string;
  #source: unknown;
  #ports: readonly unknown[];
  constructor(
    type: string,
    init?: EventInit & { data?: T; origin?: string; lastEventId?: string; source?: unknown; ports?: unknown[] },
  ) {
    if (arguments.length === 0)
      throw new SafeTypeError("Failed to construct 'MessageEvent': 1 argument required, but only 0 present.");
    super(type, init);
    this.#data = init?.data ?? null;
    this.#origin = init?.origin === undefined ? '' : String(init.origin);
    this.#lastEventId = init?.lastEventId === undefined ? '' : String(init.lastEventId);
    this.#source = init?.source ?? null;
    const ports = init?.ports ?? [];
    if (!ArrayIsArray(ports))
      throw new SafeTypeError("Failed to construct 'MessageEvent': The 'ports' member is not a sequence.");
    this.#ports = ObjectFreeze(ArrayPrototypeSlice(ports));
  }
  get data() {
    return this.#data;
  }
  get origin() {
    return this.#origin;
  }
  get lastEventId() {
    return this.#lastEventId;
  }
  get source() {
    return this.#source;
  }
  get ports() {
    return this.#ports;
  }
}

export class ErrorEvent extends Event {
  #message: string;
  #filename: string;
  #lineno: number;
  #colno: number;
  #error: unknown;
  constructor(
    type: string,
    init?: EventInit & { message?: string; filename?: string; lineno?: number; colno?: number; error?: unknown },
  ) {
    if (arguments.length === 0)
      throw new SafeTypeError("Failed to construct 'ErrorEvent': 1 argument required, but only 0 present.");
    super(type, init);
    this.#message = init?.message === undefined ? '' : String(init.message);
    this.#filename = init?.filename === undefined ? '' : String(init.filename);
    this.#lineno = (init?.lineno ?? 0) >>> 0;
    this.#colno = (init?.colno ?? 0) >>> 0;
    this.#error = init?.error;
  }
  get message() {
    return this.#message;
  }
  get filename() {
    return this.#filename;
  }
  get lineno() {
    return this.#lineno;
  }
  get colno() {
    return this.#colno;
  }
  get error() {
    return this.#error;
  }
}

export class PromiseRejectionEvent extends Event {
  #promise: Promise<unknown>;
  #reason: unknown;
  constructor(type: string, init: EventInit & { promise: Promise<unknown>; reason?: unknown }) {
    if (arguments.length < 2)
      throw new SafeTypeError(
        `Failed to construct 'PromiseRejectionEvent': 2 arguments required, but only ${arguments.length} present.`,
      );
    if (init === null || typeof init !== 'object' || !('promise' in init)) {
      throw new SafeTypeError("Failed to construct 'PromiseRejectionEvent': required member promise is undefined.");
    }
    super(type, init);
    this.#promise = init.promise;
    this.#reason = init.reason;
  }
  get promise() {
    return this.#promise;
  }
  get reason() {
    return this.#reason;
  }
}
