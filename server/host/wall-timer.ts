// The wall-time limit of a sandbox's requests, as one timer per sandbox rather than one per
// request: it is due at the earliest deadline of the requests in flight; when it fires, `sweep`
// cuts the overdue ones and names the next deadline, and the timer re-arms for it. While nothing
// is in flight it stays armed but does not keep the process alive.

export class WallTimer {
  #timer: NodeJS.Timeout | null = null;
  #due = Infinity;
  readonly #sweep: (now: number) => number;

  /** `sweep(now)`: cuts the requests overdue at `now`; returns the next deadline (Infinity: none) */
  constructor(sweep: (now: number) => number) {
    this.#sweep = sweep;
  }

  /**
   * Makes sure the timer fires by `deadline` (on performance.now()'s clock). `first`: the
   * request is the only one in flight, so an idle timer must hold the process again.
   */
  arm(deadline: number, first: boolean): void {
    if (this.#timer && this.#due <= deadline) {
      if (first) this.#timer.ref();
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#due = deadline;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, deadline - performance.now()));
  }

  /** nothing is in flight: the timer no longer keeps the process alive */
  idle(): void {
    this.#timer?.unref();
  }

  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#due = Infinity;
  }

  #fire(): void {
    this.#timer = null;
    this.#due = Infinity;
    const next = this.#sweep(performance.now());
    if (next !== Infinity) this.arm(next, false);
  }
}
