// What this process's observers threw away instead of making serving wait (DESIGN.md: "serving
// never waits on an observer"). Every place that drops log lines counts them here by reason, and
// Metrics exports the totals as `islet_log_lines_dropped_total{reason}` at scrape time (under the
// supervisor, the primary's own drops are summed with every worker's). A leaf module with no
// imports, so that the IPC channel (cluster/) and the output writers can count without pulling
// in metrics.

/** Why lines were dropped. */
export type DropReason =
  /** stdout's reader did not keep up and the bounded buffer was full */
  | 'stdout_full'
  /** stdout is closed (EPIPE): nothing will ever read these lines */
  | 'stdout_closed'
  /** the supervisor forwards its workers' stderr; the reader of its own stderr did not keep up */
  | 'stderr_full'
  /** stderr is closed */
  | 'stderr_closed'
  /** a client following a tenant's logs (`islet logs --follow`) read slower than lines came */
  | 'follower'
  /** lines relayed over IPC to another process's followers, while that process was behind */
  | 'relay_full';

export const DROP_REASONS: readonly DropReason[] = [
  'stdout_full',
  'stdout_closed',
  'stderr_full',
  'stderr_closed',
  'follower',
  'relay_full',
];

const totals = new Map<DropReason, number>(DROP_REASONS.map((reason) => [reason, 0]));

/** Counts `lines` dropped for `reason`. */
export function countDropped(reason: DropReason, lines = 1): void {
  if (lines > 0) totals.set(reason, totals.get(reason)! + lines);
}

/** Lines dropped by this process since it started, by reason (every reason present, 0 when none). */
export function droppedTotals(): ReadonlyMap<DropReason, number> {
  return totals;
}
