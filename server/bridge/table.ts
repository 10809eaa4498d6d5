// The host's end of the bridge: one handler per operation declared in ./ops.ts, found by name
// in a table built once per sandbox. The table refuses what the declarations do not allow (an
// unknown name, a call with the wrong number of arguments) with a BridgeCallError, which the
// bridge throws back into the isolate as an exception: the caller's own failure, never the
// host's. Handlers are typed from the declarations, so a handler that takes or returns the wrong
// thing does not compile.
//
// A `now` op's handler returns its result. A `later` op's handler gets a Completion to answer
// with when the work is done; the table returns the completion's op id to the isolate at once.
import { BridgeCallError } from '../errors';
import { hostOps, type AbortName, type ErrorParts, type HostOps, type OpArgs, type OpName, type OpResult } from './ops';

/** How a later op answers: once, with its result or its failure; `onAbort` hears of an abortOp for it. */
export interface Completion<Result> {
  readonly id: number;
  resolve(value: Result): void;
  reject(error: ErrorParts): void;
  onAbort(abort: (name: AbortName) => void): void;
  /** forgets the op unanswered: its handler refused the call by throwing, so the isolate never saw its id */
  discard(): void;
}

/** the handler of op N; `Ctx` is what the host knows about the caller (the request being served) */
export type OpHandler<N extends OpName, Ctx> = HostOps[N]['later'] extends true
  ? (ctx: Ctx, op: Completion<OpResult<N>>, ...args: OpArgs<N>) => void
  : (ctx: Ctx, ...args: OpArgs<N>) => OpResult<N>;

/** handlers for some of the ops (each host room supplies the ones of its concern) */
export type OpHandlers<Names extends OpName, Ctx> = { [N in Names]: OpHandler<N, Ctx> };

type KeysOfUnion<T> = T extends unknown ? keyof T : never;
/** the declared ops none of `Groups` has a handler for */
type Uncovered<Groups extends readonly object[]> = Exclude<OpName, KeysOfUnion<Groups[number]>>;
/** no constraint when `Groups` cover every declared op; otherwise a property no group has, naming what is missing */
type Covering<Groups extends readonly object[]> = [Uncovered<Groups>] extends [never]
  ? unknown
  : { 'no handler for': Uncovered<Groups> };

interface Row {
  arity: number;
  later: boolean;
  handler: (...args: unknown[]) => unknown;
}

export class OpTable<Ctx> {
  readonly #rows = new Map<string, Row>();
  readonly #start: (ctx: Ctx) => Completion<unknown>;

  /**
   * The table of one sandbox. `start` begins a later op for the caller and returns the
   * completion its handler answers through; `groups` are the handlers of every declared op
   * between them, one group from each host part (an op no group handles does not compile).
   */
  static of<Ctx, const Groups extends readonly Partial<OpHandlers<OpName, Ctx>>[]>(
    start: (ctx: Ctx) => Completion<unknown>,
    ...groups: Groups & Covering<Groups>
  ): OpTable<Ctx> {
    return new OpTable(start, groups);
  }

  private constructor(start: (ctx: Ctx) => Completion<unknown>, groups: readonly Partial<OpHandlers<OpName, Ctx>>[]) {
    this.#start = start;
    // rows are filled group by group (not through one object spread of every group: V8 copies
    // a spread of many sources slowly, ~0.1 ms here, and a table is built per cold start)
    for (const group of groups) {
      for (const name of Object.keys(group) as OpName[]) {
        const { arity, later } = hostOps[name];
        this.#rows.set(name, { arity, later, handler: group[name] as Row['handler'] });
      }
    }
  }

  /** runs one bridge call from the isolate; throws BridgeCallError for a call the declarations refuse */
  call(ctx: Ctx, op: unknown, args: unknown[]): unknown {
    const row = typeof op === 'string' ? this.#rows.get(op) : undefined;
    if (row === undefined) {
      throw new BridgeCallError('ISLET_BRIDGE_UNKNOWN_OP', `islet bridge: unknown operation ${describe(op)}`);
    }
    if (args.length !== row.arity) {
      const takes = `${row.arity} argument${row.arity === 1 ? '' : 's'}`;
      const message = `islet bridge: operation '${op as string}' takes ${takes}, got ${args.length}`;
      throw new BridgeCallError('ISLET_BRIDGE_ARITY', message);
    }
    if (!row.later) return row.handler(ctx, ...args);
    const completion = this.#start(ctx);
    try {
      row.handler(ctx, completion, ...args);
    } catch (error) {
      completion.discard();
      throw error;
    }
    return completion.id;
  }
}

/** an op name as an error message shows it: strings quoted and cut short, anything else by type */
function describe(op: unknown): string {
  if (typeof op === 'string') return `'${op.length > 40 ? `${op.slice(0, 40)}...` : op}'`;
  return `(a ${op === null ? 'null' : typeof op}, not a name)`;
}
