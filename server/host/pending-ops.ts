// The later ops in flight (server/bridge/ops.ts declares which ops complete later): the op id
// the isolate waits on, the request it was made for, how to abort it. A completion enters the
// isolate with the result, charged to that request; the ops of a finished request are aborted
// and their ids handed to the isolate's `finish` entry, which forgets them.
import type { AbortName, ErrorParts } from '../bridge/ops';
import type { Completion } from '../bridge/table';
import type { IsolateEntry } from './entry';
import type { Caller, HostOpHandlers, RequestRun, RunResources } from './run';

class PendingOp implements Completion<unknown> {
  abort?: (name: AbortName) => void;

  constructor(
    readonly id: number,
    readonly run: RequestRun | null,
    readonly table: PendingOps,
  ) {}

  resolve(value: unknown): void {
    this.table.complete(this.id, true, value);
  }

  reject(error: ErrorParts): void {
    this.table.complete(this.id, false, error);
  }

  onAbort(abort: (name: AbortName) => void): void {
    this.abort = abort;
  }

  discard(): void {
    this.table.forget(this.id);
  }
}

export class PendingOps implements RunResources {
  readonly #entry: IsolateEntry;
  readonly #ops = new Map<number, PendingOp>();
  /** ops whose result was delivered but whose work goes on (a fetch's body): an abort still reaches them */
  readonly #lingering = new Map<number, (name: AbortName) => void>();
  #next = 1;

  constructor(entry: IsolateEntry) {
    this.#entry = entry;
  }

  readonly ops: HostOpHandlers<'abortOp'> = {
    // the name becomes a DOMException's: only the two the shims send are let through
    abortOp: (_caller, id, name) => this.abort(id, name === 'TimeoutError' ? 'TimeoutError' : 'AbortError'),
  };

  /** a new op of `caller`, for the bridge's op table */
  start(caller: Caller): Completion<unknown> {
    const op = new PendingOp(this.#next++, caller, this);
    this.#ops.set(op.id, op);
    caller?.ops.add(op.id);
    return op;
  }

  /** delivers an op's outcome to the isolate (nothing when the op was aborted, or its request is over) */
  complete(id: number, ok: boolean, value: unknown): void {
    const op = this.#ops.get(id);
    if (!op) return;
    this.forget(id);
    if (op.run?.finished) return;
    this.#entry.enter(op.run, 'complete', [id, ok, value]);
  }

  forget(id: number): void {
    const op = this.#ops.get(id);
    if (!op) return;
    this.#ops.delete(id);
    op.run?.ops.delete(id);
  }

  /** keeps `abort` reachable by op id after the op completed; returns the function that lets it go */
  linger(id: number, abort: (name: AbortName) => void): () => void {
    this.#lingering.set(id, abort);
    return () => this.#lingering.delete(id);
  }

  abort(id: number, name: AbortName): void {
    (this.#ops.get(id)?.abort ?? this.#lingering.get(id))?.(name);
  }

  releaseRun(run: RequestRun): void {
    for (const id of run.ops) {
      this.#ops.get(id)?.abort?.('AbortError');
      this.#ops.delete(id);
    }
    run.ops.clear();
  }

  dispose(): void {
    for (const op of this.#ops.values()) op.abort?.('AbortError');
    this.#ops.clear();
    for (const abort of this.#lingering.values()) abort('AbortError');
    this.#lingering.clear();
  }
}
