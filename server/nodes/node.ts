// This node among the nodes sharing a store: its identity, its heartbeat, and the revision of
// the change log it has applied. The process that is its node's subscriber to the store (alone,
// the serving process; under a supervisor, the supervisor) starts it. `applied()` comes from
// whoever applies the log on the node; without one, the node follows the log with a feed of its
// own. The node is ready once it has read the change log through to the store's newest revision
// since it started (a node back from a long absence catches up before it reports ready).
import type { Config } from '../config';
import type { Logger } from '../observe/server-log';
import type { ChangeFeed, DeploymentStore } from '../store/types';
import { NodeHeartbeat } from './heartbeat';
import { isletVersion, nodeAddress, nodeId } from './identity';
import { openNodeRegistry } from './open';
import type { NodeBeat, NodeRegistry } from './types';

export interface StartNodeOptions {
  config: Config;
  store: DeploymentStore;
  logger: Logger;
  /** the tenant port clients reach this node at (the default address) */
  port: number;
  /** serving processes now */
  workers(): number;
  /** the revision every serving process of the node applied (default: the node's own feed) */
  applied?(): number;
  /** false: only read the node list (another process of the node beats for it) */
  heartbeat?: boolean;
}

export class ThisNode {
  readonly id: string;
  readonly address: string;
  readonly registry: NodeRegistry;
  readonly startedAt = new Date().toISOString();
  readonly #options: StartNodeOptions;
  readonly #heartbeat: NodeHeartbeat;
  #feed: ChangeFeed | null = null;
  /** the store's revision when the node started: reaching it means caught up */
  #target: number | null = null;
  #ready = false;

  private constructor(options: StartNodeOptions) {
    const { config } = options;
    this.#options = options;
    this.id = nodeId(config.nodes.id, config.dataDir);
    this.address = nodeAddress(config.nodes.address, options.port);
    this.registry = openNodeRegistry(options.store, { liveBeats: config.nodes.liveBeats });
    this.#heartbeat = new NodeHeartbeat({
      registry: this.registry,
      describe: () => this.describe(),
      before: () => this.#checkReady(),
      intervalMs: config.nodes.heartbeatMs,
      logger: options.logger,
    });
  }

  static async start(options: StartNodeOptions): Promise<ThisNode> {
    const node = new ThisNode(options);
    if (options.heartbeat === false) return node;
    if (!options.applied) {
      const from = await options.store.currentRevision().catch(() => 0);
      node.#feed = options.store.openFeed({ from });
      node.#feed.onChange(() => node.#checkReady());
      await node.#feed.start().catch(() => {});
    }
    await node.#checkReady();
    await node.#heartbeat.start();
    return node;
  }

  /** the revision every serving process of the node applied */
  applied(): number {
    return this.#options.applied?.() ?? this.#feed?.revision ?? 0;
  }

  /** caught up with the change log since the node started */
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

  /** ready once the applied revision reached the store's revision as read after the start */
  async #checkReady(): Promise<void> {
    if (this.#ready) return;
    if (this.#target === null) {
      try {
        this.#target = await this.#options.store.currentRevision();
      } catch {
        return;
      }
    }
    if (this.applied() >= this.#target) this.#ready = true;
  }

  /** re-checks readiness (callers that apply the log say when they moved) */
  progressed(): Promise<void> {
    return this.#checkReady();
  }

  async stop(): Promise<void> {
    if (this.#options.heartbeat === false) return;
    await this.#heartbeat.stop();
    await this.#feed?.close();
  }
}
