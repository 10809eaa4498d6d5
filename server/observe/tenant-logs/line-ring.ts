// The last lines of one tenant, bounded in count and in bytes: the tenant log hub keeps one per
// tenant. Dropped lines release their strings at once, not at the next compaction.

export class LineRing {
  #lines: (string | undefined)[] = [];
  #head = 0;
  #bytes = 0;
  constructor(
    readonly maxLines: number,
    readonly maxBytes: number,
  ) {}

  get bytes(): number {
    return this.#bytes;
  }

  /** adds a line, drops the oldest past the bounds; returns the change in bytes held */
  push(line: string): number {
    const before = this.#bytes;
    this.#lines.push(line);
    this.#bytes += line.length;
    while (
      this.#lines.length - this.#head > this.maxLines ||
      (this.#bytes > this.maxBytes && this.#lines.length - this.#head > 1)
    ) {
      this.#bytes -= this.#lines[this.#head]!.length;
      this.#lines[this.#head++] = undefined;
    }
    if (this.#head > this.maxLines) {
      this.#lines = this.#lines.slice(this.#head);
      this.#head = 0;
    }
    return this.#bytes - before;
  }

  tail(count: number): string[] {
    const start = Math.max(this.#head, this.#lines.length - count);
    return this.#lines.slice(start) as string[];
  }
}
