// Event, CustomEvent and EventTarget (DOM Standard, without the tree: no capture/bubble path,
// so dispatch reaches the target's own listeners only, which is all a worker global needs).
import {
  SafeTypeError,
  append,
  ArrayPrototypeSlice,
  ArrayPrototypeSplice,
  ReflectApply,
  SafeMap,
  MapPrototypeGet,
  MapPrototypeSet,
  ObjectDefineProperty,
  ObjectGetOwnPropertyDescriptor,
} from '../internal/primordials';
import { reportError } from '../internal/report';

const NONE = 0,
  AT_TARGET = 2;

// filled by the classes' static blocks below; declared first so they exist when those run
let eventInternals: {
  begin(e: Event, t: EventTarget): void;
  end(e: Event): void;
  stoppedImmediately(e: Event): boolean;
  setPassive(e: Event, p: boolean): void;
};
/** the one getter of every event's own `isTrusted` ([LegacyUnforgeable] in the DOM Standard) */
let isTrustedGetter: () => boolean;
let trust: (e: Event) => void;
export let listenersOf: (target: EventTarget, type: string) => { callback: Listener }[];

/** an event the platform itself fires (isTrusted true), e.g. AbortSignal's abort */
export function trustedEvent(type: string): Event {
  const event = new Event(type);
  trust(event);
  return event;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}

export class Event {
  #type: string;
  #bubbles: boolean;
  #cancelable: boolean;
  #composed: boolean;
  #canceled = false;
  #stop = false;
  #stopImmediate = false;
  #inPassive = false;
  #dispatching = false;
  #trusted = false;
  #target: EventTarget | null = null;
  #timeStamp = Date.now();
  static readonly NONE = 0;
  static readonly CAPTURING_PHASE = 1;
  static readonly AT_TARGET = 2;
  static readonly BUBBLING_PHASE = 3;
  constructor(type: string, init?: { bubbles?: boolean; cancelable?: boolean; composed?: boolean } | null) {
    if (arguments.length === 0)
      throw new SafeTypeError("Failed to construct 'Event': 1 argument required, but only 0 present.");
    this.#type = String(type);
    if (init !== undefined && init !== null && !isObject(init)) {
      throw new SafeTypeError("Failed to construct 'Event': The provided value is not of type 'EventInit'.");
    }
    this.#bubbles = !!init?.bubbles;
    this.#cancelable = !!init?.cancelable;
    this.#composed = !!init?.composed;
    ObjectDefineProperty(this, 'isTrusted', { get: isTrustedGetter, enumerable: true, configurable: false });
  }
  get type() {
    return this.#type;
  }
  get bubbles() {
    return this.#bubbles;
  }
  get cancelable() {
    return this.#cancelable;
  }
  get composed() {
    return this.#composed;
  }
  get defaultPrevented() {
    return this.#canceled;
  }
  get returnValue() {
    return !this.#canceled;
  }
  set returnValue(value: boolean) {
    if (!value) this.#cancel();
  }
  get target() {
    return this.#target;
  }
  get currentTarget() {
    return this.#dispatching ? this.#target : null;
  }
  get srcElement() {
    return this.#target;
  }
  get eventPhase() {
    return this.#dispatching ? AT_TARGET : NONE;
  }
  get timeStamp() {
    return this.#timeStamp;
  }
  get cancelBubble() {
    return this.#stop;
  }
  set cancelBubble(value: boolean) {
    if (value) this.#stop = true;
  }
  composedPath(): EventTarget[] {
    return this.#dispatching && this.#target ? [this.#target] : [];
  }
  preventDefault(): void {
    this.#cancel();
  }
  stopPropagation(): void {
    this.#stop = true;
  }
  stopImmediatePropagation(): void {
    this.#stop = true;
    this.#stopImmediate = true;
  }
  /** the legacy initialiser (DOM Standard "initialize"): does nothing while the event is dispatched */
  initEvent(type: string, bubbles = false, cancelable = false): void {
    if (arguments.length === 0)
      throw new SafeTypeError("Failed to execute 'initEvent': 1 argument required, but only 0 present.");
    if (this.#dispatching) return;
    this.#stop = false;
    this.#stopImmediate = false;
    this.#canceled = false;
    this.#trusted = false;
    this.#target = null;
    this.#type = String(type);
    this.#bubbles = !!bubbles;
    this.#cancelable = !!cancelable;
  }
  #cancel(): void {
    if (this.#cancelable && !this.#inPassive) this.#canceled = true;
  }

  static {
    eventInternals = {
      begin(event, target) {
        if (event.#dispatching)
          throw new (globalThis as any).DOMException('The event is already being dispatched.', 'InvalidStateError');
        event.#dispatching = true;
        event.#target = target;
      },
      end(event) {
        event.#dispatching = false;
        event.#stop = false;
        event.#stopImmediate = false;
      },
      stoppedImmediately(event) {
        return event.#stopImmediate;
      },
      setPassive(event, passive) {
        event.#inPassive = passive;
      },
    };
    isTrustedGetter = ObjectGetOwnPropertyDescriptor(
      {
        get isTrusted() {
          return (this as unknown as Event).#trusted;
        },
      },
      'isTrusted',
    )!.get as () => boolean;
    trust = (event) => {
      event.#trusted = true;
    };
  }
}
export class CustomEvent<T = unknown> extends Event {
  #detail: T | null;
  constructor(type: string, init?: { bubbles?: boolean; cancelable?: boolean; composed?: boolean; detail?: T }) {
    super(type, init);
    this.#detail = init?.detail ?? null;
  }
  get detail() {
    return this.#detail;
  }
}

type Listener = ((event: Event) => unknown) | { handleEvent(event: Event): unknown };
interface Registration {
  callback: Listener;
  capture: boolean;
  once: boolean;
  passive: boolean;
  removed: boolean;
}
interface Signal {
  aborted: boolean;
  addEventListener(t: string, f: () => void, o?: unknown): void;
}

/** AbortSignal's brand check, given by the abort module (which imports this one) */
let isAbortSignal: (value: unknown) => boolean = () => false;
export function setAbortSignalCheck(check: (value: unknown) => boolean): void {
  isAbortSignal = check;
}

/** EventListenerOptions or a boolean: the capture flag (DOM "flatten") */
function flatten(options: unknown): boolean {
  return isObject(options) ? !!options.capture : !!options;
}

/** AddEventListenerOptions or a boolean, members read in the order WebIDL reads them */
function flattenMore(options: unknown): { capture: boolean; once: boolean; passive: boolean; signal: Signal | null } {
  const capture = flatten(options);
  if (!isObject(options)) return { capture, once: false, passive: false, signal: null };
  const once = !!options.once;
  const passive = !!options.passive;
  const signal = options.signal;
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw new SafeTypeError("Failed to execute 'addEventListener': member signal is not of type 'AbortSignal'.");
  }
  return { capture, once, passive, signal: (signal as Signal | undefined) ?? null };
}

function checkCallback(callback: unknown, method: string): void {
  if (callback !== null && callback !== undefined && !isObject(callback)) {
    throw new SafeTypeError(`Failed to execute '${method}': parameter 2 is not of type 'Object'.`);
  }
}

export class EventTarget {
  #listeners = new SafeMap<string, Registration[]>();

  addEventListener(type: string, callback: Listener | null, options?: boolean | Record<string, unknown>): void {
    if (arguments.length < 2) throw new SafeTypeError("Failed to execute 'addEventListener': 2 arguments required.");
    type = String(type);
    checkCallback(callback, 'addEventListener');
    const { capture, once, passive, signal } = flattenMore(options);
    if (signal?.aborted || callback === null || callback === undefined) return;
    let list = MapPrototypeGet(this.#listeners, type);
    if (!list) MapPrototypeSet(this.#listeners, type, (list = []));
    for (let i = 0; i < list.length; i++) if (list[i].callback === callback && list[i].capture === capture) return;
    append(list, { callback, capture, once, passive, removed: false });
    if (signal)
      signal.addEventListener('abort', () => this.removeEventListener(type, callback, { capture }), { once: true });
  }

  removeEventListener(type: string, callback: Listener | null, options?: boolean | Record<string, unknown>): void {
    if (arguments.length < 2) throw new SafeTypeError("Failed to execute 'removeEventListener': 2 arguments required.");
    type = String(type);
    checkCallback(callback, 'removeEventListener');
    const capture = flatten(options);
    const list = MapPrototypeGet(this.#listeners, type);
    if (!list || !callback) return;
    for (let i = 0; i < list.length; i++) {
      if (list[i].callback === callback && list[i].capture === capture) {
        list[i].removed = true;
        ArrayPrototypeSplice(list, i, 1);
        return;
      }
    }
  }

  dispatchEvent(event: Event): boolean {
    if (!(event instanceof Event))
      throw new SafeTypeError("Failed to execute 'dispatchEvent': parameter 1 is not of type 'Event'.");
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
            else {
              const handleEvent = r.callback.handleEvent;
              if (typeof handleEvent !== 'function')
                throw new SafeTypeError("The listener's handleEvent is not a function");
              ReflectApply(handleEvent, r.callback, [event]);
            }
          } catch (error) {
            // DOM "report the exception": an error event at the global scope, else the tenant's log
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
