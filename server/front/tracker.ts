// What the front tells about each request while it serves it, to whoever keeps track of
// requests in flight: under the supervisor, the worker's crash journal (cluster/journal-writer.ts),
// which the supervisor reads when the worker dies to attribute the death, retry what can be
// retried elsewhere and answer the rest. A slot is what begin() returned (-1: not tracked; the
// other calls are then not made).
import type { IncomingMessage } from 'node:http';

export interface RequestTracker {
  /** a request arrived; returns its slot, or -1 when it is not tracked */
  begin(req: IncomingMessage): number;
  /**
   * it was not answered in the turn it arrived (it waits for something): keep what replaying it
   * would take. Most requests are answered at once and never pay for this.
   */
  park(slot: number, req: IncomingMessage): void;
  /** its tenant is known */
  tenant(slot: number, tenant: string): void;
  /** it waits for its tenant's isolate to start */
  cold(slot: number): void;
  /** its answer is about to be written: from here on it must never be replayed */
  answering(slot: number): void;
  /** it is over (answered, or its client left) */
  end(slot: number): void;
}
