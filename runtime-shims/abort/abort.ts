// AbortController and AbortSignal (DOM Standard), with AbortSignal.abort/timeout/any.
import { EventTarget, type Event, setAbortSignalCheck, trustedEvent } from '../events/event-target';
import { DOMException } from '../events/dom-exception';
import { SafeTypeError, append } from '../internal/primordials';
import { setTimer } from '../timers/timers';

let createSignal: () => AbortSignal;
/** runs `fn` (internal, before listeners) when the signal aborts */
export let addAbortAlgorithm: (signal: AbortSignal, fn: () => void) => void;
let signalAbort: (signal: AbortSignal, reason: unknown) => void;
const illegal = Symbol('illegal');

export class AbortSignal extends EventTarget {
  #aborted = false;
  #reason: unknown = undefined;
  #onabort: ((e: Event) => unknown) | null = null;
  #algorithms: (() => void)[] = [];
  /** signals made by AbortSignal.any over this one, held weakly (DOM "dependent signals") */
  #dependents: WeakRef<AbortSignal>[] = [];
  /** AbortSignal.any: the signals this one follows, never themselves dependent (DOM "source signals");
   *  kept alive as long as this one (they hold it weakly) */
  #sources: AbortSignal[] = [];
  #dependent = false;

  constructor(key?: unknown) {
    if (key !== illegal) throw new SafeTypeError('Illegal constructor');
    super();
  }
  get aborted(): boolean {
    return this.#aborted;
  }
  get reason(): unknown {
    return this.#reason;
  }
  get onabort() {
    return this.#onabort;
  }
  set onabort(fn) {
    if (this.#onabort) this.removeEventListener('abort', this.#onabort);
    this.#onabort = typeof fn === 'function' ? fn : null;
    if (this.#onabort) this.addEventListener('abort', this.#onabort);
  }
  throwIfAborted(): void {
    if (this.#aborted) throw this.#reason;
  }

  static abort(reason?: unknown): AbortSignal {
    const signal = createSignal();
    signal.#aborted = true;
    signal.#reason = reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason;
    return signal;
  }

  static timeout(ms: number): AbortSignal {
    ms = Number(ms);
    if (!(ms >= 0) || ms > Number.MAX_SAFE_INTEGER)
      throw new SafeTypeError(`AbortSignal.timeout: ${ms} is not a valid delay`);
    const signal = createSignal();
    setTimer(
      () => signalAbort(signal, new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
      ms,
      false,
    );
    return signal;
  }

  static any(signals: Iterable<AbortSignal>): AbortSignal {
    const result = createSignal();
    const list: AbortSignal[] = [];
    for (const s of signals) {
      if (!(s instanceof AbortSignal)) throw new SafeTypeError('AbortSignal.any: every element must be an AbortSignal');
      append(list, s);
    }
    for (const s of list) {
      if (s.#aborted) {
        result.#aborted = true;
        result.#reason = s.#reason;
        return result;
      }
    }
    result.#dependent = true;
    // a dependent signal follows the sources of the signals it was made from, never a dependent
    // one: every signal aborted by one source is then aborted in the same step, in creation order
    const follow = (source: AbortSignal) => {
      if (result.#sources.includes(source)) return;
      append(result.#sources, source);
      append(source.#dependents, new WeakRef(result));
    };
    for (const s of list) {
      if (!s.#dependent) follow(s);
      else for (const source of s.#sources) follow(source);
    }
    return result;
  }

  static {
    createSignal = () => new AbortSignal(illegal);
    setAbortSignalCheck((value) => typeof value === 'object' && value !== null && #aborted in value);
    /** DOM "run the abort steps": internal algorithms first, then the (trusted) abort event */
    const runAbortSteps = (signal: AbortSignal) => {
      const algorithms = signal.#algorithms;
      signal.#algorithms = [];
      for (let i = 0; i < algorithms.length; i++) {
        try {
          algorithms[i]();
        } catch {
          /* an internal follower must not stop the others */
        }
      }
      signal.dispatchEvent(trustedEvent('abort'));
    };
    signalAbort = (signal, reason) => {
      if (signal.#aborted) return;
      signal.#aborted = true;
      signal.#reason = reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason;
      // every dependent is marked aborted, with this reason, before any abort event fires
      const dependents: AbortSignal[] = [];
      for (const ref of signal.#dependents) {
        const d = ref.deref();
        if (d && !d.#aborted) {
          d.#aborted = true;
          d.#reason = signal.#reason;
          append(dependents, d);
        }
      }
      signal.#dependents = [];
      runAbortSteps(signal);
      for (const d of dependents) runAbortSteps(d);
    };
    addAbortAlgorithm = (signal, fn) => {
      if (signal.#aborted) return;
      append(signal.#algorithms, fn);
    };
  }
}
export class AbortController {
  #signal = createSignal();
  get signal(): AbortSignal {
    return this.#signal;
  }
  abort(reason?: unknown): void {
    signalAbort(this.#signal, reason);
  }
}

export function newSignal(): AbortSignal {
  return createSignal();
}
export function abortSignal(signal: AbortSignal, reason?: unknown): void {
  signalAbort(signal, reason);
}
