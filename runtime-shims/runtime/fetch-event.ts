// FetchEvent for classic-script functions (`addEventListener('fetch', event => ...)`).
import { Event } from '../events/event-target';
import { DOMException } from '../events/dom-exception';
import { SafeTypeError } from '../internal/primordials';

export interface FetchEventHooks {
  respondWith(response: unknown): void;
  waitUntil(promise: unknown): void;
  passThroughOnException(): void;
}

const illegal = Symbol('illegal');
let create: (request: Request, hooks: FetchEventHooks) => FetchEvent;
let responded: (event: FetchEvent) => boolean;

export class FetchEvent extends Event {
  #request: Request;
  #hooks: FetchEventHooks;
  #responded = false;
  constructor(type: string, init: { request: Request }, key?: unknown, hooks?: FetchEventHooks) {
    if (key !== illegal) throw new SafeTypeError('Illegal constructor: FetchEvents are created by the runtime');
    super(type, { cancelable: true });
    this.#request = init.request;
    this.#hooks = hooks!;
  }
  get request(): Request { return this.#request; }
  respondWith(response: unknown): void {
    if (this.#responded) throw new DOMException('FetchEvent.respondWith() has already been called.', 'InvalidStateError');
    this.#responded = true;
    this.#hooks.respondWith(response);
  }
  waitUntil(promise: unknown): void {
    this.#hooks.waitUntil(promise);
  }
  passThroughOnException(): void {
    this.#hooks.passThroughOnException();
  }
  static {
    create = (request, hooks) => new FetchEvent('fetch', { request }, illegal, hooks);
    responded = (event) => event.#responded;
  }
}

export function createFetchEvent(request: Request, hooks: FetchEventHooks): FetchEvent {
  return create(request, hooks);
}
export function hasResponded(event: FetchEvent): boolean {
  return responded(event);
}
