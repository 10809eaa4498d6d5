// The clock tenant code sees. While its code runs, time stands still: Date.now(), new Date(),
// Date(), performance.now() and Intl's "now" all read the time of the last entry into the isolate
// (a request's start, an operation completing, a timer firing), as Cloudflare Workers do. A
// tenant can then no longer time its own code against a fine clock to learn what else this
// thread did meanwhile (a neighbour's request, measured through the delay it caused, or cache
// timing): between two reads inside one entry, no time passes. The host's entry points call
// `tick()` before anything else (index.ts).
import { ObjectDefineProperty, ReflectApply, globalObject } from './primordials';

export interface Clock {
  /** the frozen time, ms since the epoch */
  wall(): number;
  /** ms since the isolate started, frozen likewise, never going back */
  now(): number;
  /** the isolate was entered: time moves to now */
  tick(): void;
  origin: number;
}

export function installClock(): Clock {
  const RealDate = Date;
  const realNow = RealDate.now;
  const origin = realNow();
  let frozen = origin;
  const clock: Clock = {
    origin,
    wall: () => frozen,
    now: () => frozen - origin,
    tick: () => {
      const t = realNow();
      if (t > frozen) frozen = t; // monotonic even if the wall clock steps back
    },
  };

  const construct = Reflect.construct;
  const dateToString = RealDate.prototype.toString;
  // `Date` itself: new Date() and Date() read the frozen time; everything else is the real one
  // (same prototype, so instanceof, subclassing and every method are unchanged)
  const FrozenDate = function FrozenDate(this: unknown, ...args: unknown[]) {
    if (new.target === undefined) return ReflectApply(dateToString, new RealDate(frozen), []);
    return construct(RealDate, args.length === 0 ? [frozen] : args, new.target);
  } as unknown as DateConstructor;
  ObjectDefineProperty(FrozenDate, 'length', { value: 7 });
  ObjectDefineProperty(FrozenDate, 'name', { value: 'Date' });
  ObjectDefineProperty(FrozenDate, 'prototype', { value: RealDate.prototype, writable: false });
  ObjectDefineProperty(RealDate.prototype, 'constructor', {
    value: FrozenDate,
    writable: true,
    configurable: true,
    enumerable: false,
  });
  for (const name of ['now', 'parse', 'UTC'] as const) {
    const value = name === 'now' ? () => frozen : RealDate[name];
    ObjectDefineProperty(FrozenDate, name, { value, writable: true, configurable: true, enumerable: false });
  }
  ObjectDefineProperty(globalObject, 'Date', {
    value: FrozenDate,
    writable: true,
    configurable: true,
    enumerable: false,
  });

  // Intl formats "now" when given no date: the frozen now, not the real one
  const dtf = Intl.DateTimeFormat.prototype;
  const formatToParts = dtf.formatToParts;
  ObjectDefineProperty(dtf, 'formatToParts', {
    value: function formatToPartsAt(this: Intl.DateTimeFormat, date?: Date | number): Intl.DateTimeFormatPart[] {
      return ReflectApply(formatToParts, this, [date === undefined ? frozen : date]);
    },
    writable: true,
    configurable: true,
  });
  const formatGetter = Object.getOwnPropertyDescriptor(dtf, 'format')!.get!;
  ObjectDefineProperty(dtf, 'format', {
    get(this: Intl.DateTimeFormat) {
      const bound = ReflectApply(formatGetter, this, []) as (date?: Date | number) => string;
      return (date?: Date | number) => bound(date === undefined ? frozen : date);
    },
    configurable: true,
  });
  return clock;
}
