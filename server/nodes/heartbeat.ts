// The node's heartbeat: every `intervalMs` it writes what `describe()` says about the node
// (applied revision, workers, readiness) to the registry. A failed beat (the database is down)
// is logged once when beats start failing and once when they work again; it never stops the
// node. On a graceful stop the node says it left, so writes stop waiting for it at once.
import type { Logger } from '../observe/server-log';
import type { NodeBeat, NodeRegistry } from './types';

export interface HeartbeatOptions {
  registry: NodeRegistry;
  describe(): NodeBeat;
  /** runs before each beat (the node re-checks whether it caught up) */
  before?(): Promise<void>;
  intervalMs: number;
  logger: Logger;
}

/** how long a stopping node waits to say it left */
const LEAVE_TIMEOUT_MS = 2000;

export class NodeHeartbeat {
  readonly #options: HeartbeatOptions;
  #timer: NodeJS.Timeout | null = null;
  #beating: Promise<void> | null = null;
  #failing: string | null = null;
  #beats = 0;

  constructor(options: HeartbeatOptions) {
    this.#options = options;
  }

  /** beats once (awaited) and then every interval */
  async start(): Promise<void> {
    await this.beat();
    this.#timer = setInterval(() => void this.beat(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** one heartbeat now (a beat still in flight is joined, not doubled) */
  beat(): Promise<void> {
    this.#beating ??= this.#beat().finally(() => {
      this.#beating = null;
    });
    return this.#beating;
  }

  stats(): { beats: number; failing: string | null } {
    return { beats: this.#beats, failing: this.#failing };
  }

  async #beat(): Promise<void> {
    const { registry, describe, logger } = this.#options;
    await this.#options.before?.().catch(() => {});
    const beat = describe();
    try {
      await registry.beat(beat);
      this.#beats++;
      if (this.#failing !== null) logger.info('node heartbeat works again', { node: beat.id });
      this.#failing = null;
    } catch (error) {
      const message = (error as Error).message;
      if (this.#failing === null) logger.warn('node heartbeat failed', { node: beat.id, error: message });
      this.#failing = message;
    }
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#beating;
    const { registry, describe } = this.#options;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, LEAVE_TIMEOUT_MS);
      timer.unref();
    });
    await Promise.race([registry.leave(describe().id).catch(() => {}), timeout]);
    clearTimeout(timer);
  }
}
