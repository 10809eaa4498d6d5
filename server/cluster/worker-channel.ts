// A worker process's end of the IPC channel to its supervisor. `ask` sends one request to the
// primary and resolves with its answer, or rejects with a ClusterError: ISLET_CLUSTER_TIMEOUT
// after the request's timeout, ISLET_CLUSTER_GONE when the primary's pipe closes first,
// ISLET_CLUSTER_FAILED when its handler threw (or it has none), ISLET_CLUSTER_BUSY when
// MAX_PENDING requests already wait. `handle` answers the primary's `askAll`, `on` hears its
// notices (a handed-over socket arrives as the notice's handle), `notify` tells it something.
//
// The end listens on the process only while something is registered or pending: a 'message'
// listener keeps the IPC pipe, and with it the process, alive.
import { ClusterError } from '../errors';
import { Endpoint, MAX_PENDING, errorText } from './endpoint';
import { islet, type Islet } from './messages';
import { isEnvelopeOf, type Answering, type AnswerOf, type ArgsOf, type Envelope, type Protocol } from './protocol';

/** the primary as a peer of Endpoint's per-peer counts */
const PRIMARY = 0;

interface Pending {
  kind: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class WorkerChannel<P extends Protocol> extends Endpoint<undefined> {
  declare readonly protocol: P;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #listening = false;

  readonly #onMessage = (message: unknown, handle: unknown): void => {
    if (!isEnvelopeOf(this.protocol, message)) return;
    if (message.type === 'answer') {
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#settle(message.id);
      if (message.ok) pending.resolve(message.value);
      else
        pending.reject(
          new ClusterError(
            'ISLET_CLUSTER_FAILED',
            `the supervisor could not answer '${pending.kind}': ${message.error}`,
          ),
        );
      return;
    }
    this.receive(message, undefined, handle, (answer) => this.#write(answer, false));
  };

  readonly #onDisconnect = (): void => {
    this.forgetPeer(PRIMARY);
    for (const [id, pending] of [...this.#pending]) {
      this.#settle(id);
      pending.reject(
        new ClusterError('ISLET_CLUSTER_GONE', `the supervisor went away before answering '${pending.kind}'`),
      );
    }
  };

  constructor(protocol: P) {
    super(protocol, 'worker');
  }

  protected get pendingCount(): number {
    return this.#pending.size;
  }

  /** Asks the primary; resolves with its answer (see the file's head for the rejections). */
  ask<K extends keyof P['primaryRequests'] & string>(
    kind: K,
    args: ArgsOf<P['primaryRequests'][K]>,
    options: { timeoutMs?: number } = {},
  ): Promise<AnswerOf<P['primaryRequests'][K]>> {
    if (!process.connected)
      return Promise.reject(new ClusterError('ISLET_CLUSTER_GONE', `the supervisor is gone; cannot ask '${kind}'`));
    if (this.#pending.size >= MAX_PENDING) {
      return Promise.reject(
        new ClusterError(
          'ISLET_CLUSTER_BUSY',
          `${MAX_PENDING} requests already wait for the supervisor; '${kind}' refused`,
        ),
      );
    }
    const timeoutMs = options.timeoutMs ?? this.protocol.primaryRequests[kind]!.timeoutMs;
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#settle(id);
        reject(
          new ClusterError('ISLET_CLUSTER_TIMEOUT', `the supervisor did not answer '${kind}' within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.#pending.set(id, { kind, resolve: resolve as (value: unknown) => void, reject, timer });
      this.#listen();
      this.#write({ channel: this.protocol.name, type: 'ask', id, kind, args }, false, (error) => {
        if (!error || !this.#pending.has(id)) return;
        this.#settle(id);
        reject(
          new ClusterError('ISLET_CLUSTER_GONE', `'${kind}' could not be sent to the supervisor: ${errorText(error)}`, {
            cause: error,
          }),
        );
      });
    });
  }

  /** Answers the primary's `kind` requests; returns a function that stops answering. */
  handle<K extends keyof P['workerRequests'] & string>(
    kind: K,
    handler: (args: ArgsOf<P['workerRequests'][K]>) => Answering<P['workerRequests'][K]>,
  ): () => void {
    return this.#registered(this.addHandler(kind, handler as (args: never) => unknown));
  }

  /** Calls `listener` with every `kind` notice (and the socket or server handed with it). */
  on<K extends keyof P['workerNotices'] & string>(
    kind: K,
    listener: (args: ArgsOf<P['workerNotices'][K]>, handle: unknown) => void,
  ): () => void {
    const wrapped = (args: never, _from: undefined, handle: unknown): void => listener(args, handle);
    return this.#registered(this.addListener(kind, wrapped));
  }

  /** Tells the primary; false when the pipe is closed or a lossy notice was dropped. */
  notify<K extends keyof P['primaryNotices'] & string>(kind: K, args: ArgsOf<P['primaryNotices'][K]>): boolean {
    if (!process.connected) return false;
    return this.#write(
      { channel: this.protocol.name, type: 'notice', kind, args },
      this.protocol.primaryNotices[kind]!.lossy,
    );
  }

  #registered(unregister: () => void): () => void {
    this.#listen();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      unregister();
      this.#listen();
    };
  }

  #settle(id: number): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.#pending.delete(id);
    this.#listen();
  }

  /** listens on the process exactly while something is registered or pending */
  #listen(): void {
    const wanted = this.registrations > 0 || this.#pending.size > 0;
    if (wanted === this.#listening) return;
    this.#listening = wanted;
    if (wanted) {
      process.on('message', this.#onMessage);
      process.on('disconnect', this.#onDisconnect);
    } else {
      process.off('message', this.#onMessage);
      process.off('disconnect', this.#onDisconnect);
    }
  }

  #write(message: Envelope, lossy: boolean, sent?: (error: Error | null) => void): boolean {
    return this.post(PRIMARY, message, lossy, (m, written) => void process.send!(m, undefined, {}, written), sent);
  }
}

let isletWorker: WorkerChannel<Islet> | undefined;

/** This worker's end of islet's channel, made on first use. Only in a node:cluster worker. */
export function workerChannel(): WorkerChannel<Islet> {
  return (isletWorker ??= new WorkerChannel(islet));
}
