// The Performance interface (High Resolution Time, User Timing): `performance` is an instance, its
// clock the shims' coarse monotonic one (1 ms: a coarse clock is what untrusted code should get),
// with marks and measures kept in the isolate.
import { EventTarget } from '../events/event-target';
import { DOMException } from '../events/dom-exception';
import { SafeTypeError, append, ArrayPrototypeSlice } from '../internal/primordials';

const illegal = Symbol('illegal');

export class PerformanceEntry {
  #name: string;
  #entryType: string;
  #startTime: number;
  #duration: number;
  constructor(key: unknown, name: string, entryType: string, startTime: number, duration: number) {
    if (key !== illegal) throw new SafeTypeError('Illegal constructor');
    this.#name = name;
    this.#entryType = entryType;
    this.#startTime = startTime;
    this.#duration = duration;
  }
  get name() {
    return this.#name;
  }
  get entryType() {
    return this.#entryType;
  }
  get startTime() {
    return this.#startTime;
  }
  get duration() {
    return this.#duration;
  }
  toJSON() {
    return { name: this.name, entryType: this.entryType, startTime: this.startTime, duration: this.duration };
  }
}

export class PerformanceMark extends PerformanceEntry {
  #detail: unknown;
  constructor(name: string, options?: { startTime?: number; detail?: unknown }) {
    if (arguments.length === 0)
      throw new SafeTypeError("Failed to construct 'PerformanceMark': 1 argument required, but only 0 present.");
    const startTime = options?.startTime ?? clock();
    if (startTime < 0)
      throw new SafeTypeError("Failed to construct 'PerformanceMark': 'startTime' cannot be negative.");
    super(illegal, String(name), 'mark', startTime, 0);
    this.#detail = options?.detail ?? null;
  }
  get detail() {
    return this.#detail;
  }
}

export class PerformanceMeasure extends PerformanceEntry {
  #detail: unknown;
  constructor(key: unknown, name: string, startTime: number, duration: number, detail: unknown) {
    super(key, name, 'measure', startTime, duration);
    this.#detail = detail;
  }
  get detail() {
    return this.#detail;
  }
}

let clock: () => number = () => 0;

export class Performance extends EventTarget {
  #now: () => number;
  #timeOrigin: number;
  #entries: PerformanceEntry[] = [];

  constructor(key: unknown, now: () => number, timeOrigin: number) {
    if (key !== illegal) throw new SafeTypeError('Illegal constructor');
    super();
    this.#now = now;
    this.#timeOrigin = timeOrigin;
  }

  get timeOrigin() {
    return this.#timeOrigin;
  }
  now(): number {
    return this.#now();
  }
  toJSON() {
    return { timeOrigin: this.#timeOrigin };
  }

  mark(name: string, options?: { startTime?: number; detail?: unknown }): PerformanceMark {
    const mark = new PerformanceMark(name, options);
    append(this.#entries, mark);
    return mark;
  }

  measure(
    name: string,
    start?: string | { start?: string | number; end?: string | number; duration?: number; detail?: unknown },
    end?: string,
  ): PerformanceMeasure {
    const options = start !== null && typeof start === 'object' ? start : null;
    const time = (point: string | number | undefined, fallback: number): number => {
      if (point === undefined) return fallback;
      if (typeof point === 'number') return point;
      for (let i = this.#entries.length - 1; i >= 0; i--) {
        const entry = this.#entries[i];
        if (entry.entryType === 'mark' && entry.name === point) return entry.startTime;
      }
      throw new DOMException(
        `Failed to execute 'measure' on 'Performance': The mark '${point}' does not exist.`,
        'SyntaxError',
      );
    };
    let from: number;
    let to: number;
    if (options) {
      to =
        options.end !== undefined
          ? time(options.end, 0)
          : options.duration !== undefined && options.start !== undefined
            ? time(options.start, 0) + options.duration
            : this.#now();
      from =
        options.start !== undefined
          ? time(options.start, 0)
          : options.duration !== undefined
            ? to - options.duration
            : 0;
    } else {
      from = time(start as string | undefined, 0);
      to = time(end, this.#now());
    }
    const measure = new PerformanceMeasure(illegal, String(name), from, to - from, options?.detail ?? null);
    append(this.#entries, measure);
    return measure;
  }

  getEntries(): PerformanceEntry[] {
    return ArrayPrototypeSlice(this.#entries);
  }
  getEntriesByType(type: string): PerformanceEntry[] {
    return this.#entries.filter((e) => e.entryType === type);
  }
  getEntriesByName(name: string, type?: string): PerformanceEntry[] {
    return this.#entries.filter((e) => e.name === name && (type === undefined || e.entryType === type));
  }
  clearMarks(name?: string): void {
    this.#clear('mark', name);
  }
  clearMeasures(name?: string): void {
    this.#clear('measure', name);
  }
  clearResourceTimings(): void {}
  setResourceTimingBufferSize(): void {}

  #clear(type: string, name?: string): void {
    this.#entries = this.#entries.filter((e) => e.entryType !== type || (name !== undefined && e.name !== name));
  }
}

export function createPerformance(
  now: () => number,
  timeOrigin: number,
  named: typeof Performance = Performance,
): Performance {
  clock = now;
  return new named(illegal, now, timeOrigin);
}
