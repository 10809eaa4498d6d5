// The supervisor's (cluster primary's) view of metrics: the sum over every live worker, merged
// with prom-client's AggregatorRegistry (counters and histograms add up; its default metrics say
// how they merge), together with the supervisor's own registry (supervisor.ts: worker deaths,
// quarantines, replays, its own dropped log lines). A worker that does not answer in time
// (busy past its CPU budget, or dying) is left out rather than failing the scrape;
// `islet_cluster_workers{state}` says how many workers answered, so a partial sum is visible.
// Workers scraped through the shared admin port ask for this sum over the channel
// (Metrics.joinCluster, the 'metrics.scrape' request).
import { AggregatorRegistry, Counter, Gauge, type Registry } from 'prom-client';
import { primaryChannel } from '../../cluster/primary-channel';
import type { MetricsSource, Scrape } from './metrics';

export class ClusterMetrics implements MetricsSource {
  readonly #timeoutMs: number | undefined;
  readonly #channel = primaryChannel();
  readonly #stopAnswering: () => void;
  readonly #own: Registry | undefined;
  readonly #restarts: (() => number) | undefined;

  /**
   * `timeoutMs`: how long a scrape waits for workers (default: the message table's); `restarts`:
   * workers replaced after dying so far (the supervisor's count), exported as a counter; `own`:
   * the supervisor's registry, summed in
   */
  constructor(options: { timeoutMs?: number; restarts?: () => number; own?: Registry } = {}) {
    this.#timeoutMs = options.timeoutMs;
    this.#restarts = options.restarts;
    this.#own = options.own;
    this.#stopAnswering = this.#channel.handle('metrics.scrape', () => this.scrape());
  }

  async scrape(): Promise<Scrape> {
    const { answers, missing } = await this.#channel.askAll('metrics.collect', undefined, {
      timeoutMs: this.#timeoutMs,
    });
    const parts = answers.map((a) => a.value);
    if (this.#own) parts.push(await this.#own.getMetricsAsJSON());
    const registry = AggregatorRegistry.aggregate(parts);
    const gauge = new Gauge({
      name: 'islet_cluster_workers',
      help: 'Worker processes whose metrics are in this scrape (answered) or missing from it',
      labelNames: ['state'],
      registers: [registry],
    });
    gauge.set({ state: 'answered' }, answers.length);
    gauge.set({ state: 'missing' }, missing.length);
    if (this.#restarts) {
      const restarts = new Counter({
        name: 'islet_worker_restarts_total',
        help: 'Worker processes that died and were replaced by the supervisor',
        registers: [registry],
      });
      restarts.inc(this.#restarts());
    }
    return { contentType: registry.contentType, body: await registry.metrics() };
  }

  close(): void {
    this.#stopAnswering();
  }
}
