// The last lines of one tenant, bounded in bytes (the tenant log hub keeps one per tenant).
// Bytes, not a line count: a busy tenant's short request lines then fill minutes of history, and
// a few huge lines cannot hold a ring's worth of memory. Lines are kept in the order they were
// written, which is time order, so a time range is found by binary search. Dropped lines release
// their strings at once, not at the next compaction.
import { lineTime } from './query';

export class LineRing {
  #lines: (string | undefined)[] = [];
  #head = 0;
  #bytes = 0;
  constructor(
    readonly maxBytes: number,
    /** an optional bound in lines too (tests, small embeddings); none by default */
    readonly maxLines = Number.POSITIVE_INFINITY,
  ) {}

  get bytes(): number {
    return this.#bytes;
  }

  get length(): number {
    return this.#lines.length - this.#head;
  }

  /** adds a line, drops the oldest past the bound (never the line just added); returns the change in bytes */
  push(line: string): number {
    const before = this.#bytes;
    this.#lines.push(line);
    this.#bytes += line.length;
    while (
      (this.#bytes > this.maxBytes || this.#lines.length - this.#head > this.maxLines) &&
      this.#lines.length - this.#head > 1
    ) {
      this.#bytes -= this.#lines[this.#head]!.length;
      this.#lines[this.#head++] = undefined;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#lines.length) {
      this.#lines = this.#lines.slice(this.#head);
      this.#head = 0;
    }
    return this.#bytes - before;
  }

  /** the newest `count` lines, oldest first */
  tail(count: number): string[] {
    const start = Math.max(this.#head, this.#lines.length - count);
    return this.#lines.slice(start) as string[];
  }

  /**
   * The lines written before `until` (ISO time; all when undefined), oldest first: a copy, so a
   * search may yield to the event loop while the ring moves on.
   */
  before(until?: string): string[] {
    let end = this.#lines.length;
    if (until !== undefined) {
      let low = this.#head;
      let high = end;
      while (low < high) {
        const mid = (low + high) >>> 1;
        if (lineTime(this.#lines[mid]!) < until) low = mid + 1;
        else high = mid;
      }
      end = low;
    }
    return this.#lines.slice(this.#head, end) as string[];
  }
}
