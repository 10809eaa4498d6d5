// Tenants whose isolates keep dying. A cold start costs the machine tens of milliseconds to
// seconds of CPU (isolate, shims, every module compiled, top-level code); a deployment whose
// top-level code fails, or whose isolates are killed over their memory limit request after
// request, would make the worker pay that again and again (34 memory kills in 10 s cost ~20 s of
// CPU). Each death (a failed start, a memory kill) counts; the count resets when a request on the
// tenant's isolate completes normally, when its deployment changes, or after a quiet spell.
//   - fewer than `after` deaths in a row: a failed start is remembered for `baseMs` and replayed
//     to the requests that arrive meanwhile (one start per window, not one per request);
//   - from `after` on: no new isolate for base x 2^(deaths - after) ms, capped at `maxMs`;
//     requests get 503 with Retry-After (TenantBackoffError) without costing a start.
import { TenantBackoffError } from '../errors';

export interface BackoffSettings {
  after: number;
  baseMs: number;
  maxMs: number;
}

interface Streak {
  deployment: string;
  deaths: number;
  /** no new isolate before this time (ms since the epoch) */
  until: number;
  /** the failed start's error, replayed during a short window (null: a kill, nothing to replay) */
  error: unknown;
}

/** What a request for a tenant without a live isolate must do now. */
export type BackoffVerdict = { replay: unknown } | { wait: TenantBackoffError } | null;

export class Backoff {
  readonly #settings: BackoffSettings;
  readonly #now: () => number;
  readonly #streaks = new Map<string, Streak>();

  constructor(settings: BackoffSettings, now: () => number = Date.now) {
    this.#settings = settings;
    this.#now = now;
  }

  /**
   * An isolate of `tenant` died (`error`: its failed start; null: a memory kill). Returns the
   * back-off it started in ms (0: none yet).
   */
  died(tenant: string, deployment: string, error: unknown): number {
    const { after, baseMs, maxMs } = this.#settings;
    let streak = this.#streaks.get(tenant);
    if (!streak || streak.deployment !== deployment) {
      streak = { deployment, deaths: 0, until: 0, error: null };
      this.#streaks.set(tenant, streak);
    }
    streak.deaths++;
    streak.error = error;
    const now = this.#now();
    if (streak.deaths < after) {
      streak.until = error === null ? now : now + baseMs;
      return 0;
    }
    const wait = Math.min(maxMs, baseMs * 2 ** Math.min(30, streak.deaths - after));
    streak.until = now + wait;
    return wait;
  }

  /** a request on the tenant's isolate completed without it dying: the streak is over */
  lived(tenant: string): void {
    if (this.#streaks.size !== 0) this.#streaks.delete(tenant);
  }

  /** what a request that needs a new isolate of `deployment` gets now */
  verdict(tenant: string, deployment: string): BackoffVerdict {
    const streak = this.#streaks.get(tenant);
    if (!streak || streak.deployment !== deployment) return null;
    const left = streak.until - this.#now();
    if (left <= 0) return null;
    if (streak.deaths < this.#settings.after) return streak.error === null ? null : { replay: streak.error };
    return { wait: new TenantBackoffError(tenant, left, streak.deaths) };
  }

  /** forgets streaks quiet for longer than the longest back-off (the pool's sweep calls this) */
  sweep(): void {
    const stale = this.#now() - this.#settings.maxMs;
    for (const [tenant, streak] of this.#streaks) if (streak.until < stale) this.#streaks.delete(tenant);
  }
}
