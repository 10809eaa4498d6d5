// Event, CustomEvent and EventTarget (DOM Standard, without the tree: no capture/bubble path,
// so dispatch reaches the target's own listeners only, which is all a worker global needs).
import { SafeTypeError, append, ArrayPrototypeSlice, ArrayPrototypeSplice, ReflectApply, SafeMap, MapPrototypeGet, MapPrototypeSet } from '../internal/primordials';
import { reportError } from '../internal/report';

const NONE = 0, AT_TARGET = 2;

// filled by the classes' static blocks below; declared first so they exist when those run
let eventInternals: {
  begin(e: Event, t: EventTarget): void;
  end(e: Event): void;
  stoppedImmediately(e: Event): boolean;
  setPassive(e: Event, p: boolean): void;
};
export let listenersOf: (target: EventTarget, type: string) => { callback: Listener }[];

export class Event {
  #type: string;
  #bubbles: boolean;
  #cancelable: boolean;
  #composed: boolean;
  #defaultPrevented = false;
  #stop = false;
  #stopImmediate = false;
  #inPassive = false;
  #dispatching = false;
  #target: EventTarget | null = null;
  #timeStamp = Date.now();
  static readonly NONE = 0;
  static readonly CAPTURING_PHASE = 1;
  static readonly AT_TARGET = 2;
  static readonly BUBBLING_PHASE = 3;
  constructor(type: string, init?: { bubbles?: boolean; cancelable?: boolean; composed?: boolean }) {
    if (arguments.length === 0) throw new SafeTypeError("Failed to construct 'Event': 1 argument required, but only 0 present.");
    this.#type = String(type);
    this.#bubbles = !!init?.bubbles;
    this.#cancelable = !!init?.cancelable;
    this.#composed = !!init?.composed;
  }
  get type() { return this.#type; }
  get bubbles() { return this.#bubbles; }
  get cancelable() { return this.#cancelable; }
  get composed() { return this.#composed; }
  get defaultPrevented() { return this.#cancelable && this.#defaultPrevented; }
  get returnValue() { return !this.defaultPrevented; }
  get target() { return this.#target; }
  get currentTarget() { return this.#dispatching ? this.#target : null; }
  get srcElement() { return this.#target; }
  get eventPhase() { return this.#dispatching ? AT_TARGET : NONE; }
  get isTrusted() { return false; }
  get timeStamp() { return this.#timeStamp; }
  get cancelBubble() { return this.#stop; }
  set cancelBubble(value: boolean) { if (value) this.#stop = true; }
  composedPath(): EventTarget[] { return this.#dispatching && this.#target ? [this.#target] : []; }
  preventDefault(): void { if (this.#cancelable && !this.#inPassive) this.#defaultPrevented = true; }
  stopPropagation(): void { this.#stop = true; }
  stopImmediatePropagation(): void { this.#stop = true; this.#stopImmediate = true; }

  static {
    eventInternals = {
      begin(event, target) {
        if (event.#dispatching) throw new (globalThis as any).DOMException('The event is already being dispatched.', 'InvalidStateError');
        event.#dispatching = true;
        event.#target = target;
      },
      end(event) { event.#dispatching = false; event.#stop = false; event.#stopImmediate = false; },
      stoppedImmediately(event) { return event.#stopImmediate; },
      setPassive(event, passive) { event.#inPassive = passive; },
    };
  }
}
export class CustomEvent<T = unknown> extends Event {
  #detail: T | null;
  constructor(type: string, init?: { bubbles?: boolean; cancelable?: boolean; composed?: boolean; detail?: T }) {
    super(type, init);
    this.#detail = init?.detail ?? null;
  }
  get detail() { return this.#detail; }
}

type Listener = ((event: Event) => unknown) | { handleEvent(event: Event): unknown };
interface Registration {
  callback: Listener;
  capture: boolean;
  once: boolean;
  passive: boolean;
  removed: boolean;
  signal?: { aborted: boolean; addEventListener(t: string, f: () => void, o?: unknown): void };
}

function flatten(options: unknown): { capture: boolean; once: boolean; passive: boolean; signal?: any } {
  if (typeof options === 'boolean') return { capture: options, once: false, passive: false };
  const o = (options ?? {}) as Record<string, unknown>;
  return { capture: !!o.capture, once: !!o.once, passive: !!o.passive, signal: o.signal };
}

export class EventTarget {
  #listeners = new SafeMap<string, Registration[]>();

  addEventListener(type: string, callback: Listener | null, options?: boolean | Record<string, unknown>): void {
    if (arguments.length < 2) throw new SafeTypeError("Failed to execute 'addEventListener': 2 arguments required.");
    if (callback === null || callback === undefined) return;
    const { capture, once, passive, signal } = flatten(options);
    if (signal?.aborted) return;
    type = String(type);
    let list = MapPrototypeGet(this.#listeners, type);
    if (!list) MapPrototypeSet(this.#listeners, type, (list = []));
    for (let i = 0; i < list.length; i++) if (list[i].callback === callback && list[i].capture === capture) return;
    const registration: Registration = { callback, capture, once, passive, removed: false, signal };
    append(list, registration);
    if (signal) signal.addEventListener('abort', () => this.removeEventListener(type, callback, { capture }), { once: true });
  }

  removeEventListener(type: string, callback: Listener | null, options?: boolean | Record<string, unknown>): void {
    const list = MapPrototypeGet(this.#listeners, String(type));
    if (!list || !callback) return;
    const { capture } = flatten(options);
    for (let i = 0; i < list.length; i++) {
      if (list[i].callback === callback && list[i].capture === capture) {
        list[i].removed = true;
        ArrayPrototypeSplice(list, i, 1);
        return;
      }
    }
  }

  dispatchEvent(event: Event): boolean {
    if (!(event instanceof Event)) throw new SafeTypeError("Failed to execute 'dispatchEvent': parameter 1 is not of type 'Event'.");
    eventInternals.begin(event, this);
    try {
      const list = MapPrototypeGet(this.#listeners, event.type);
      if (list) {
        const snapshot = ArrayPrototypeSlice(list) as Registration[];
        for (let i = 0; i < snapshot.length; i++) {
          const r = snapshot[i];
          if (r.removed) continue;
          if (r.once) this.removeEventListener(event.type, r.callback, { capture: r.capture });
          eventInternals.setPassive(event, r.passive);
          try {
            if (typeof r.callback === 'function') ReflectApply(r.callback, this, [event]);
            else if (r.callback && typeof r.callback.handleEvent === 'function') ReflectApply(r.callback.handleEvent, r.callback, [event]);
          } catch (error) {
            reportError(error);
          }
          eventInternals.setPassive(event, false);
          if (eventInternals.stoppedImmediately(event)) break;
        }
      }
    } finally {
      eventInternals.end(event);
    }
    return !event.defaultPrevented;
  }

  /** listeners registered for a type (used by the fetch-event dispatcher) */
  static {
    listenersOf = (target, type) => {
      const list = MapPrototypeGet(target.#listeners, type);
      return list ? (ArrayPrototypeSlice(list) as Registration[]) : [];
    };
  }
}
