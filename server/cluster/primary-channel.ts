// The supervisor's (cluster primary's) end of the IPC channel. Its one collective act is
// `askAll`: ask every live worker (or the ones named), wait at most the request's timeout, and
// resolve with the answers and with who did not answer and why: timed out, gone (the worker
// exited or its pipe closed before answering: a worker's death never waits for the timeout),
// failed (its handler threw, or it has none), or unsent. It never rejects for one worker's
// sake; it rejects only when MAX_PENDING collections already wait (ISLET_CLUSTER_BUSY).
//
// Metrics (sum every worker's registry), tenant logs (merge every worker's recent lines) and
// the supervisor (hand-off, drain) use it; so will the fan-out of store changes (issue 15).
import cluster, { type Worker } from 'node:cluster';
import { ClusterError } from '../errors';
import { Endpoint, MAX_PENDING, errorText } from './endpoint';
import { islet, type Islet } from './messages';
import { isEnvelopeOf, type Answering, type AnswerOf, type ArgsOf, type Envelope, type Protocol } from './protocol';

/** A worker as answers name it: node:cluster's id and the process id. */
export interface WorkerRef {
  id: number;
  pid: number | undefined;
}

export type MissingReason = 'timeout' | 'gone' | 'failed' | 'unsent';

export interface Collected<Answer> {
  answers: { worker: WorkerRef; value: Answer }[];
  missing: { worker: WorkerRef; reason: MissingReason; message: string }[];
}

export interface AskAllOptions {
  /** default: the request's timeout in the message table */
  timeoutMs?: number;
  /** default: every worker whose pipe is open */
  workers?: readonly Worker[];
}

export interface NoticeOptions {
  /** a socket or server handed to the worker with the notice */
  handle?: import('node:net').Socket | import('node:net').Server;
  /** keep the primary's copy of `handle` open (the worker gets a duplicate) */
  keepOpen?: boolean;
  /** called once the notice is written to the pipe, or with the error that kept it from it */
  sent?(error: Error | null): void;
}

interface Collection {
  kind: string;
  waiting: Map<number, Worker>;
  result: Collected<unknown>;
  finish(): void;
}

function ref(worker: Worker): WorkerRef {
  return { id: worker.id, pid: worker.process.pid };
}

/** Workers whose IPC pipe is open (a worker that disconnected is on its way out). */
export function liveWorkers(): Worker[] {
  return Object.values(cluster.workers ?? {}).filter((w): w is Worker => w?.isConnected() === true);
}

export class PrimaryChannel<P extends Protocol> extends Endpoint<Worker> {
  declare readonly protocol: P;
  readonly #collections = new Map<number, Collection>();
  readonly #goneListeners = new Set<(worker: Worker) => void>();
  #nextId = 1;
  #closed = false;

  readonly #onMessage = (worker: Worker, message: unknown, handle: unknown): void => {
    if (!isEnvelopeOf(this.protocol, message)) return;
    if (message.type === 'answer') {
      const collection = this.#collections.get(message.id);
      if (!collection?.waiting.delete(worker.id)) return;
      if (message.ok) collection.result.answers.push({ worker: ref(worker), value: message.value });
      else collection.result.missing.push({ worker: ref(worker), reason: 'failed', message: message.error });
      if (collection.waiting.size === 0) collection.finish();
      return;
    }
    this.receive(message, worker, handle, (answer) => this.#write(worker, answer, false));
  };

  readonly #onDisconnect = (worker: Worker): void => {
    this.forgetPeer(worker.id);
    for (const collection of [...this.#collections.values()]) {
      if (!collection.waiting.delete(worker.id)) continue;
      const message = `worker ${worker.id} (pid ${worker.process.pid}) exited before answering '${collection.kind}'`;
      collection.result.missing.push({ worker: ref(worker), reason: 'gone', message });
      if (collection.waiting.size === 0) collection.finish();
    }
  };

  readonly #onExit = (worker: Worker): void => {
    this.#onDisconnect(worker);
    for (const listener of [...this.#goneListeners]) listener(worker);
  };

  constructor(protocol: P) {
    super(protocol, 'primary');
    cluster.on('message', this.#onMessage);
    cluster.on('disconnect', this.#onDisconnect);
    cluster.on('exit', this.#onExit);
  }

  protected get pendingCount(): number {
    return this.#collections.size;
  }

  /**
   * Asks every live worker (or `options.workers`) and resolves once each has answered, failed or
   * gone, or the timeout passed: the answers, and the workers missing from them with a reason.
   */
  askAll<K extends keyof P['workerRequests'] & string>(
    kind: K,
    args: ArgsOf<P['workerRequests'][K]>,
    options: AskAllOptions = {},
  ): Promise<Collected<AnswerOf<P['workerRequests'][K]>>> {
    if (this.#closed)
      return Promise.reject(
        new ClusterError('ISLET_CLUSTER_GONE', `cluster: the channel is closed; cannot ask '${kind}'`),
      );
    if (this.#collections.size >= MAX_PENDING) {
      return Promise.reject(
        new ClusterError(
          'ISLET_CLUSTER_BUSY',
          `cluster: ${MAX_PENDING} requests already wait for workers; '${kind}' refused`,
        ),
      );
    }
    const timeoutMs = options.timeoutMs ?? this.protocol.workerRequests[kind]!.timeoutMs;
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const result: Collected<unknown> = { answers: [], missing: [] };
      const collection: Collection = {
        kind,
        waiting: new Map(),
        result,
        finish: () => {
          clearTimeout(timer);
          this.#collections.delete(id);
          resolve(result as Collected<AnswerOf<P['workerRequests'][K]>>);
        },
      };
      for (const worker of options.workers ?? liveWorkers()) {
        if (worker.isConnected()) collection.waiting.set(worker.id, worker);
        else
          result.missing.push({ worker: ref(worker), reason: 'gone', message: `worker ${worker.id} is not connected` });
      }
      const timer = setTimeout(() => {
        for (const worker of collection.waiting.values()) {
          result.missing.push({
            worker: ref(worker),
            reason: 'timeout',
            message: `worker ${worker.id} (pid ${worker.process.pid}) did not answer '${kind}' within ${timeoutMs} ms`,
          });
        }
        collection.waiting.clear();
        collection.finish();
      }, timeoutMs);
      if (collection.waiting.size === 0) return collection.finish();
      this.#collections.set(id, collection);
      const ask: Envelope = { channel: this.protocol.name, type: 'ask', id, kind, args };
      for (const worker of [...collection.waiting.values()]) {
        this.#write(worker, ask, false, (error) => {
          if (!error || !collection.waiting.delete(worker.id)) return;
          result.missing.push({
            worker: ref(worker),
            reason: 'unsent',
            message: `'${kind}' could not be sent to worker ${worker.id}: ${errorText(error)}`,
          });
          if (collection.waiting.size === 0) collection.finish();
        });
      }
    });
  }

  /** Answers workers' `kind` requests; returns a function that stops answering. */
  handle<K extends keyof P['primaryRequests'] & string>(
    kind: K,
    handler: (args: ArgsOf<P['primaryRequests'][K]>, worker: Worker) => Answering<P['primaryRequests'][K]>,
  ): () => void {
    return this.addHandler(kind, handler as (args: never, worker: Worker) => unknown);
  }

  /** Calls `listener` with every `kind` notice from a worker; returns a function that stops it. */
  on<K extends keyof P['primaryNotices'] & string>(
    kind: K,
    listener: (args: ArgsOf<P['primaryNotices'][K]>, worker: Worker) => void,
  ): () => void {
    return this.addListener(kind, listener as (args: never, worker: Worker) => void);
  }

  /** Calls `listener` with each worker that exits, after its pending answers were marked gone. */
  onWorkerGone(listener: (worker: Worker) => void): () => void {
    this.#goneListeners.add(listener);
    return () => this.#goneListeners.delete(listener);
  }

  /** Tells one worker; false when it is not connected or a lossy notice was dropped. */
  notify<K extends keyof P['workerNotices'] & string>(
    worker: Worker,
    kind: K,
    args: ArgsOf<P['workerNotices'][K]>,
    options: NoticeOptions = {},
  ): boolean {
    if (!worker.isConnected()) {
      options.sent?.(new ClusterError('ISLET_CLUSTER_GONE', `worker ${worker.id} is not connected`));
      return false;
    }
    const message: Envelope = { channel: this.protocol.name, type: 'notice', kind, args };
    return this.#write(worker, message, this.protocol.workerNotices[kind]!.lossy, options.sent, options);
  }

  /** Tells every live worker. */
  notifyAll<K extends keyof P['workerNotices'] & string>(kind: K, args: ArgsOf<P['workerNotices'][K]>): void {
    for (const worker of liveWorkers()) this.notify(worker, kind, args);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Stops reading this protocol's messages; collections still waiting resolve at once with the
   * workers they wait for missing ('gone').
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.release();
    cluster.off('message', this.#onMessage);
    cluster.off('disconnect', this.#onDisconnect);
    cluster.off('exit', this.#onExit);
    for (const collection of [...this.#collections.values()]) {
      for (const worker of collection.waiting.values()) {
        collection.result.missing.push({
          worker: ref(worker),
          reason: 'gone',
          message: `the channel closed before worker ${worker.id} answered`,
        });
      }
      collection.waiting.clear();
      collection.finish();
    }
  }

  #write(
    worker: Worker,
    message: Envelope,
    lossy: boolean,
    sent?: (error: Error | null) => void,
    options: NoticeOptions = {},
  ): boolean {
    return this.post(
      worker.id,
      message,
      lossy,
      (m, written) => {
        if (options.handle) worker.send(m, options.handle, { keepOpen: options.keepOpen ?? false }, written);
        else worker.send(m, written);
      },
      sent,
    );
  }
}

let isletPrimary: PrimaryChannel<Islet> | undefined;

/** This process's end of islet's channel, made on first use (again after a close). Only in the cluster primary. */
export function primaryChannel(): PrimaryChannel<Islet> {
  if (!isletPrimary || isletPrimary.closed) isletPrimary = new PrimaryChannel(islet);
  return isletPrimary;
}
