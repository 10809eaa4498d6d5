// MessageChannel and MessagePort (HTML standard) inside one isolate: two entangled ports; a
// message is structured-cloned when posted and delivered later (a microtask) as a MessageEvent
// to the other port, once that port is started (start(), or setting onmessage). Loaded lazily.
import { EventTarget } from '../events/event-target';
import { MessageEvent } from '../events/message-events';
import { structuredClone } from './structured-clone';
import {
  SafeTypeError,
  append,
  PromisePrototypeThen,
  PromiseResolve,
  ArrayPrototypeSplice,
  ArrayIsArray,
} from '../internal/primordials';

const illegal = Symbol('illegal');
let entangle: (a: MessagePort, b: MessagePort) => void;

export class MessagePort extends EventTarget {
  #other: MessagePort | null = null;
  #started = false;
  #closed = false;
  #queue: unknown[] = [];
  #onmessage: ((event: MessageEvent) => unknown) | null = null;
  #onmessageerror: ((event: MessageEvent) => unknown) | null = null;

  constructor(key?: unknown) {
    if (key !== illegal) throw new SafeTypeError('Illegal constructor');
    super();
  }

  postMessage(message: unknown, transfer?: unknown): void {
    if (this.#closed) return;
    // postMessage(message, transfer) or postMessage(message, { transfer }) (HTML's two overloads)
    const options = transfer === undefined || transfer === null || !ArrayIsArray(transfer) ? transfer : { transfer };
    const data = structuredClone(message, options as { transfer?: unknown[] });
    const other = this.#other;
    if (other === null || other.#closed) return;
    append(other.#queue, data);
    if (other.#started) other.#schedule();
  }

  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    if (this.#queue.length > 0) this.#schedule();
  }

  close(): void {
    this.#closed = true;
    this.#queue = [];
    if (this.#other) this.#other.#other = null;
    this.#other = null;
  }

  get onmessage() {
    return this.#onmessage;
  }
  set onmessage(handler: ((event: MessageEvent) => unknown) | null) {
    if (this.#onmessage) this.removeEventListener('message', this.#onmessage as never);
    this.#onmessage = typeof handler === 'function' ? handler : null;
    if (this.#onmessage) this.addEventListener('message', this.#onmessage as never);
    this.start();
  }
  get onmessageerror() {
    return this.#onmessageerror;
  }
  set onmessageerror(handler: ((event: MessageEvent) => unknown) | null) {
    if (this.#onmessageerror) this.removeEventListener('messageerror', this.#onmessageerror as never);
    this.#onmessageerror = typeof handler === 'function' ? handler : null;
    if (this.#onmessageerror) this.addEventListener('messageerror', this.#onmessageerror as never);
  }

  #schedule(): void {
    PromisePrototypeThen(PromiseResolve(undefined), () => {
      while (this.#started && !this.#closed && this.#queue.length > 0) {
        const [data] = ArrayPrototypeSplice(this.#queue, 0, 1);
        this.dispatchEvent(new MessageEvent('message', { data }));
      }
    });
  }

  static {
    entangle = (a, b) => {
      a.#other = b;
      b.#other = a;
    };
  }
}

export class MessageChannel {
  #port1 = new MessagePort(illegal);
  #port2 = new MessagePort(illegal);
  constructor() {
    entangle(this.#port1, this.#port2);
  }
  get port1() {
    return this.#port1;
  }
  get port2() {
    return this.#port2;
  }
}
