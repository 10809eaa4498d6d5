// This node among the nodes sharing a store: its identity, its heartbeat, the revision of the
// change log it has applied, whether it is ready, and its share of pruning the change log. The
// process that is its node's subscriber to the store (alone, the serving process; under a
// supervisor, the supervisor) beats for it; every serving process tracks its own readiness.
// `applied()` comes from whoever applies the log in the process; without one, the process
// follows the log with a feed of its own.
//
// Ready means caught up: the store's revision was read after the start (PostgreSQL reachable)
// and the log was applied up to it. A node that starts while PostgreSQL is down serves from its
// node cache but is not ready until the store is back and it has read the change log through.
import type { Config } from '../config';
import type { Logger } from '../observe/server-log';
import { PostgresDeploymentStore } from '../store/postgres/store';
import type { ChangeFeed, DeploymentStore } from '../store/types';
import { NodeHeartbeat } from './heartbeat';
import { isletVersion, nodeAddress, nodeId } from './identity';
import { openNodeRegistry } from './open';
import { pruneChanges } from './prune';
import type { NodeBeat, NodeRegistry } from './types';

/** how often a beating node prunes the change log */
const PRUNE_EVERY_MS = 60_000;
/** how soon a beating node reports a new applied revision (writes on other nodes wait for it) */
const REPORT_MS = 20;

export interface StartNodeOptions {
  config: Config;
  store: DeploymentStore;
  logger: Logger;
  /** the tenant port clients reach this node at (the default address) */
  port: number;
  /** serving processes now */
  workers(): number;
  /** the revision every serving process of the node applied (default: a feed of this process) */
  applied?(): number;
  /** false: do not beat nor prune (another process of the node does) */
  heartbeat?: boolean;
}

export class ThisNode {
  readonly id: string;
  readonly address: string;
  readonly registry: NodeRegistry;
  readonly startedAt = new Date().toISOString();
  readonly #options: StartNodeOptions;
  readonly #heartbeat: NodeHeartbeat | null;
  #feed: ChangeFeed | null = null;
  /** the store's revision as first read after the start: reaching it means caught up */
  #target: number | null = null;
  #ready = false;
  #upkeep: NodeJS.Timeout | null = null;
  #report: NodeJS.Timeout | null = null;
  #reported = 0;
  #reporting = false;
  #lastPrune = Date.now();

  private constructor(options: StartNodeOptions) {
    const { config } = options;
    this.#options = options;
    this.id = nodeId(config.nodes.id, config.dataDir);
    this.address = nodeAddress(config.nodes.address, options.port);
    this.registry = openNodeRegistry(options.store, { liveBeats: config.nodes.liveBeats });
    this.#heartbeat =
      options.heartbeat === false
        ? null
        : new NodeHeartbeat({
            registry: this.registry,
            describe: () => this.describe(),
            before: () => this.#checkReady(),
            intervalMs: config.nodes.heartbeatMs,
            logger: options.logger,
          });
  }

  static async start(options: StartNodeOptions): Promise<ThisNode> {
    const node = new ThisNode(options);
    if (!options.applied) {
      const from = await options.store.currentRevision().catch(() => 0);
      node.#feed = options.store.openFeed({ from });
      node.#feed.onChange(() => node.#checkReady());
      await node.#feed.start().catch(() => {});
    }
    await node.#checkReady();
    await node.#heartbeat?.start();
    if (node.#heartbeat) {
      node.#reported = node.applied();
      node.#report = setInterval(() => node.#reportApplied(), REPORT_MS);
      node.#report.unref();
    }
    node.#upkeep = setInterval(() => void node.#tick(), options.config.nodes.heartbeatMs);
    node.#upkeep.unref();
    return node;
  }

  /** the revision every serving process of the node applied */
  applied(): number {
    return this.#options.applied?.() ?? this.#feed?.revision ?? 0;
  }

  /** caught up with the change log since the process started */
  get ready(): boolean {
    return this.#ready;
  }

  describe(): NodeBeat {
    return {
      id: this.id,
      address: this.address,
      revision: this.applied(),
      workers: this.#options.workers(),
      version: isletVersion(),
      startedAt: this.startedAt,
      heartbeatMs: this.#options.config.nodes.heartbeatMs,
      ready: this.#ready,
    };
  }

  /** re-checks readiness (a caller that applies the log says when it moved) */
  progressed(): Promise<void> {
    return this.#checkReady();
  }

  async #checkReady(): Promise<void> {
    if (this.#ready) return;
    if (this.#target === null) {
      try {
        this.#target = await this.#options.store.currentRevision();
      } catch {
        return;
      }
    }
    if (this.applied() >= this.#target) {
      this.#ready = true;
      this.#options.logger.info('node caught up with the change log: ready', {
        node: this.id,
        revision: this.applied(),
      });
    }
  }

  /** the applied revision moved: its row says so now, not at the next beat */
  #reportApplied(): void {
    const revision = this.applied();
    if (revision <= this.#reported || this.#reporting) return;
    this.#reporting = true;
    this.registry
      .applied(this.id, revision)
      .then(
        () => {
          this.#reported = Math.max(this.#reported, revision);
        },
        () => {}, // the next beat carries it (and logs why beats fail)
      )
      .finally(() => {
        this.#reporting = false;
      });
    if (!this.#ready) void this.#checkReady();
  }

  async #tick(): Promise<void> {
    await this.#checkReady();
    const { store, config, logger } = this.#options;
    if (!this.#heartbeat || !(store instanceof PostgresDeploymentStore)) return;
    if (Date.now() - this.#lastPrune < PRUNE_EVERY_MS) return;
    this.#lastPrune = Date.now();
    try {
      const removed = await pruneChanges(store, {
        retentionS: config.store.changeRetentionS ?? 86_400,
        liveBeats: config.nodes.liveBeats,
      });
      if (removed > 0) logger.info('pruned the change log', { node: this.id, removed });
    } catch (error) {
      logger.warn('pruning the change log failed', { error: (error as Error).message });
    }
  }

  async stop(): Promise<void> {
    if (this.#upkeep) clearInterval(this.#upkeep);
    if (this.#report) clearInterval(this.#report);
    await this.#heartbeat?.stop();
    await this.#feed?.close();
  }
}
