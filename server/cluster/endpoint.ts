// What both ends of the IPC channel share: the handlers that answer the other side's requests,
// the listeners of its notices, and the bound on what may wait in the pipe.
//
// Bounds, so that no queue grows without limit whatever the other side does:
// - messages handed to Node's IPC pipe but not yet written are counted per peer; past
//   MAX_UNSENT, lossy notices (log lines) are dropped and counted instead of queued;
// - requests waiting for answers are capped at MAX_PENDING per channel (the ends refuse more
//   at once, ISLET_CLUSTER_BUSY), and each one leaves after its timeout at the latest.
import cluster from 'node:cluster';
import { ClusterError } from '../errors';
import { countDropped } from '../observe/log-drops';
import type { Envelope, Protocol } from './protocol';

/** Messages sent to one peer and not yet written to its pipe, past which lossy notices are dropped. */
export const MAX_UNSENT = 1024;
/** Requests of one channel waiting for answers, past which it refuses new ones. */
export const MAX_PENDING = 256;

type Handler<From> = (args: never, from: From) => unknown;
type Listener<From> = (args: never, from: From, handle: unknown) => void;

/** Writes one message to a peer; calls `sent` once it is written (error: it never will be). */
export type Write = (message: Envelope, sent: (error: Error | null) => void) => void;

export interface ChannelStats {
  /** requests waiting for answers */
  pending: number;
  /** lossy notices dropped because their peer was behind */
  dropped: number;
}

/** `primary:<protocol>` and `worker:<protocol>` of the ends open in this process: one per side reads a protocol */
const openEnds = new Set<string>();

export abstract class Endpoint<From> {
  readonly protocol: Protocol;
  readonly #handlers = new Map<string, Handler<From>>();
  readonly #listeners = new Map<string, Set<Listener<From>>>();
  /** per peer (a worker id; 0 for the primary): messages handed to the pipe, not yet written */
  readonly #unsent = new Map<number, number>();
  #dropped = 0;

  readonly #end: string;

  /** Refuses the wrong kind of process, and a second end of one protocol on one side. */
  constructor(protocol: Protocol, side: 'primary' | 'worker') {
    const right = side === 'primary' ? cluster.isPrimary : cluster.isWorker && typeof process.send === 'function';
    if (!right) {
      const where = side === 'primary' ? 'the cluster primary (the supervisor)' : 'a node:cluster worker process';
      throw new ClusterError('ISLET_CLUSTER_WRONG_PROCESS', `cluster: the ${side}'s channel belongs in ${where}`);
    }
    this.#end = `${side}:${protocol.name}`;
    if (openEnds.has(this.#end)) {
      throw new Error(`cluster: protocol '${protocol.name}' already has a ${side} channel in this process`);
    }
    openEnds.add(this.#end);
    this.protocol = protocol;
  }

  /** Another end of this protocol may open in this process (the subclass stopped listening). */
  protected release(): void {
    openEnds.delete(this.#end);
  }

  /** requests waiting for answers (the subclass keeps them) */
  protected abstract get pendingCount(): number;

  stats(): ChannelStats {
    return { pending: this.pendingCount, dropped: this.#dropped };
  }

  /** handlers and listeners registered: an end with none and nothing pending need not listen */
  protected get registrations(): number {
    let count = this.#handlers.size;
    for (const set of this.#listeners.values()) count += set.size;
    return count;
  }

  /** One handler per request kind: two answers to one ask would race. */
  protected addHandler(kind: string, handler: Handler<From>): () => void {
    if (this.#handlers.has(kind)) throw new Error(`cluster: '${kind}' already has a handler in this process`);
    this.#handlers.set(kind, handler);
    return () => {
      if (this.#handlers.get(kind) === handler) this.#handlers.delete(kind);
    };
  }

  protected addListener(kind: string, listener: Listener<From>): () => void {
    let set = this.#listeners.get(kind);
    if (!set) this.#listeners.set(kind, (set = new Set()));
    set.add(listener);
    return () => {
      if (!set.delete(listener) || set.size > 0) return;
      if (this.#listeners.get(kind) === set) this.#listeners.delete(kind);
    };
  }

  /** An ask or a notice of this protocol from the other side (answers are the subclass's business). */
  protected receive(envelope: Envelope, from: From, handle: unknown, reply: (answer: Envelope) => void): void {
    if (envelope.type === 'notice') {
      const listeners = this.#listeners.get(envelope.kind);
      if (listeners) for (const listener of [...listeners]) listener(envelope.args as never, from, handle);
    } else if (envelope.type === 'ask') {
      void this.#answer(envelope, from, reply);
    }
  }

  async #answer(ask: Extract<Envelope, { type: 'ask' }>, from: From, reply: (answer: Envelope) => void): Promise<void> {
    const { channel, id, kind } = ask;
    const handler = this.#handlers.get(kind);
    if (!handler) {
      reply({ channel, type: 'answer', id, ok: false, error: `no handler for '${kind}' in process ${process.pid}` });
      return;
    }
    let answer: Envelope;
    try {
      answer = { channel, type: 'answer', id, ok: true, value: await handler(ask.args as never, from) };
    } catch (error) {
      answer = { channel, type: 'answer', id, ok: false, error: errorText(error) };
    }
    try {
      reply(answer);
    } catch (error) {
      // the answer could not be serialized (a cycle, a BigInt): say so instead of leaving the asker waiting
      reply({
        channel,
        type: 'answer',
        id,
        ok: false,
        error: `the answer to '${kind}' could not be sent: ${errorText(error)}`,
      });
    }
  }

  /**
   * Hands `message` to a peer's pipe, counting it until written. Returns false when a lossy
   * notice was dropped because the peer is MAX_UNSENT messages behind. `sent` is called once,
   * when the message is written or cannot be.
   */
  protected post(
    peer: number,
    message: Envelope,
    lossy: boolean,
    write: Write,
    sent?: (error: Error | null) => void,
  ): boolean {
    const unsent = this.#unsent.get(peer) ?? 0;
    if (lossy && unsent >= MAX_UNSENT) {
      this.#dropped++;
      // the only lossy notices are log lines (a followed tenant's, relayed between processes)
      countDropped('relay_full');
      return false;
    }
    this.#unsent.set(peer, unsent + 1);
    let counted = true;
    const written = (error: Error | null): void => {
      if (counted) {
        counted = false;
        const left = (this.#unsent.get(peer) ?? 1) - 1;
        if (left > 0) this.#unsent.set(peer, left);
        else this.#unsent.delete(peer);
      }
      sent?.(error);
    };
    try {
      write(message, written);
    } catch (error) {
      // not serializable (a cycle, a BigInt), or the pipe is closed: told to `sent` when there
      // is one, else thrown to the caller
      written(error as Error);
      if (!sent) throw error;
    }
    return true;
  }

  /** The peer is gone: whatever was counted for it will never be written. */
  protected forgetPeer(peer: number): void {
    this.#unsent.delete(peer);
  }
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
