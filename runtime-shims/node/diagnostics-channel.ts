// node:diagnostics_channel: named channels that publish messages to their subscribers, and
// tracing channels (start/end/asyncStart/asyncEnd/error). Small and self-contained, written here.
const channels = new Map<string | symbol, Channel>();

type Subscriber = (message: unknown, name: string | symbol) => void;

export class Channel {
  readonly name: string | symbol;
  #subscribers: Subscriber[] = [];
  constructor(name: string | symbol) {
    this.name = name;
  }
  get hasSubscribers(): boolean {
    return this.#subscribers.length > 0;
  }
  subscribe(subscriber: Subscriber): void {
    if (typeof subscriber !== 'function') throw new TypeError('The "subscription" argument must be of type function');
    this.#subscribers = [...this.#subscribers, subscriber];
  }
  unsubscribe(subscriber: Subscriber): boolean {
    const at = this.#subscribers.indexOf(subscriber);
    if (at < 0) return false;
    this.#subscribers = this.#subscribers.filter((_, i) => i !== at);
    return true;
  }
  publish(message: unknown): void {
    for (const subscriber of this.#subscribers) {
      try {
        subscriber(message, this.name);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
  bindStore(): void {}
  unbindStore(): boolean {
    return false;
  }
  runStores<R>(message: unknown, fn: (...args: any[]) => R, thisArg?: unknown, ...args: unknown[]): R {
    this.publish(message);
    return Reflect.apply(fn, thisArg, args);
  }
}

export function channel(name: string | symbol): Channel {
  let found = channels.get(name);
  if (!found) channels.set(name, (found = new Channel(name)));
  return found;
}

export function hasSubscribers(name: string | symbol): boolean {
  return channels.get(name)?.hasSubscribers ?? false;
}

export function subscribe(name: string | symbol, subscriber: Subscriber): void {
  channel(name).subscribe(subscriber);
}

export function unsubscribe(name: string | symbol, subscriber: Subscriber): boolean {
  return channel(name).unsubscribe(subscriber);
}

const events = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const;
type TracingSubscribers = Partial<Record<(typeof events)[number], Subscriber>>;

export class TracingChannel {
  start: Channel;
  end: Channel;
  asyncStart: Channel;
  asyncEnd: Channel;
  error: Channel;
  constructor(name: string | Record<(typeof events)[number], Channel>) {
    const of = (event: (typeof events)[number]) =>
      typeof name === 'string' ? channel(`tracing:${name}:${event}`) : name[event];
    this.start = of('start');
    this.end = of('end');
    this.asyncStart = of('asyncStart');
    this.asyncEnd = of('asyncEnd');
    this.error = of('error');
  }
  get hasSubscribers(): boolean {
    return events.some((event) => this[event].hasSubscribers);
  }
  subscribe(subscribers: TracingSubscribers): void {
    for (const event of events) if (subscribers[event]) this[event].subscribe(subscribers[event]!);
  }
  unsubscribe(subscribers: TracingSubscribers): boolean {
    let all = true;
    for (const event of events) if (subscribers[event] && !this[event].unsubscribe(subscribers[event]!)) all = false;
    return all;
  }
  traceSync<R>(
    fn: (...args: any[]) => R,
    context: Record<string, unknown> = {},
    thisArg?: unknown,
    ...args: unknown[]
  ): R {
    this.start.publish(context);
    try {
      const result = Reflect.apply(fn, thisArg, args);
      context.result = result;
      return result;
    } catch (error) {
      context.error = error;
      this.error.publish(context);
      throw error;
    } finally {
      this.end.publish(context);
    }
  }
  tracePromise<R>(
    fn: (...args: any[]) => Promise<R>,
    context: Record<string, unknown> = {},
    thisArg?: unknown,
    ...args: unknown[]
  ): Promise<R> {
    this.start.publish(context);
    try {
      const promise = Promise.resolve(Reflect.apply(fn, thisArg, args));
      return promise.then(
        (result) => {
          context.result = result;
          this.asyncStart.publish(context);
          this.asyncEnd.publish(context);
          return result;
        },
        (error) => {
          context.error = error;
          this.error.publish(context);
          this.asyncStart.publish(context);
          this.asyncEnd.publish(context);
          throw error;
        },
      );
    } catch (error) {
      context.error = error;
      this.error.publish(context);
      throw error;
    } finally {
      this.end.publish(context);
    }
  }
  traceCallback<R>(
    fn: (...args: any[]) => R,
    position = -1,
    context: Record<string, unknown> = {},
    thisArg?: unknown,
    ...args: unknown[]
  ): R {
    const at = position < 0 ? args.length + position : position;
    const callback = args[at] as (...a: unknown[]) => unknown;
    args[at] = (...results: unknown[]) => {
      if (results[0]) {
        context.error = results[0];
        this.error.publish(context);
      } else context.result = results[1];
      this.asyncStart.publish(context);
      try {
        return Reflect.apply(callback, undefined, results);
      } finally {
        this.asyncEnd.publish(context);
      }
    };
    return this.traceSync(fn, context, thisArg, ...args);
  }
}

export function tracingChannel(name: string | Record<(typeof events)[number], Channel>): TracingChannel {
  return new TracingChannel(name);
}

export default { channel, hasSubscribers, subscribe, unsubscribe, tracingChannel, Channel, TracingChannel };
