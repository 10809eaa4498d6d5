// The supervisor's (cluster primary's) side of tenant logs. Each worker's hub keeps the lines it
// wrote; this merges them on demand (recent lines, by time) and relays the live lines of
// followed tenants from every worker to the workers whose clients follow them. A tenant nobody
// follows costs no IPC at all. A worker that does not answer a collection in time (or dies
// meanwhile) is left out of that answer. The worker's side is LogHub.joinCluster (hub.ts).
import type { Worker } from 'node:cluster';
import { primaryChannel } from '../../cluster/primary-channel';
import { type LogQueryParams, lineTime } from './query';

export class ClusterLogs {
  readonly #timeoutMs: number | undefined;
  readonly #channel = primaryChannel();
  /** tenant -> the workers with a client following it */
  readonly #watchers = new Map<string, Set<Worker>>();
  readonly #stop: (() => void)[];

  /** `timeoutMs`: how long a collection waits for workers (default: the message table's) */
  constructor(options: { timeoutMs?: number } = {}) {
    this.#timeoutMs = options.timeoutMs;
    const channel = this.#channel;
    this.#stop = [
      channel.on('logs.hello', (_args, worker) => {
        for (const tenant of this.#watchers.keys()) channel.notify(worker, 'logs.watch', { tenant, on: true });
      }),
      channel.on('logs.follow', ({ tenant }, worker) => this.#watch(worker, tenant)),
      channel.on('logs.unfollow', ({ tenant }, worker) => this.#unwatch(worker, tenant)),
      channel.on('logs.line', ({ tenant, line }) => {
        for (const follower of this.#watchers.get(tenant) ?? [])
          channel.notify(follower, 'logs.relay', { tenant, line });
      }),
      channel.handle('logs.recent', ({ tenant, query }) => this.recent(tenant, query)),
      channel.onWorkerGone((worker) => {
        for (const tenant of [...this.#watchers.keys()]) this.#unwatch(worker, tenant);
      }),
    ];
  }

  close(): void {
    for (const stop of this.#stop) stop();
  }

  /** A tenant's most recent lines (matching `query`) over every worker, oldest first. */
  async recent(tenant: string, query: LogQueryParams): Promise<string[]> {
    const limit = Number(query.limit ?? 100);
    const { answers } = await this.#channel.askAll('logs.collect', { tenant, query }, { timeoutMs: this.#timeoutMs });
    // each worker's lines are already in time order; a stable sort keeps that order for ties
    const merged = answers.flatMap((a) => a.value).map((line) => ({ line, time: lineTime(line) }));
    merged.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    return merged.slice(Math.max(0, merged.length - limit)).map((m) => m.line);
  }

  #watch(worker: Worker, tenant: string): void {
    let set = this.#watchers.get(tenant);
    if (!set) {
      this.#watchers.set(tenant, (set = new Set()));
      this.#channel.notifyAll('logs.watch', { tenant, on: true });
    }
    set.add(worker);
  }

  #unwatch(worker: Worker, tenant: string): void {
    const set = this.#watchers.get(tenant);
    if (!set?.delete(worker) || set.size > 0) return;
    this.#watchers.delete(tenant);
    this.#channel.notifyAll('logs.watch', { tenant, on: false });
  }
}
