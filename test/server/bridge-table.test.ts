// The bridge's op table (server/bridge/table.ts): it runs only the operations declared in
// server/bridge/ops.ts, with the declared number of arguments, and refuses anything else with
// an error the caller can catch, which leaves the isolate and the host serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostOps, type OpName } from '../../server/bridge/ops';
import { OpTable, type Completion, type OpHandlers } from '../../server/bridge/table';
import { BridgeCallError } from '../../server/errors';
import { isolateApi } from '../../server/host/isolate-api';

interface Recorder {
  calls: [string, unknown[]][];
  started: number;
  discarded: number;
}

/** a table whose every handler records its call; later ops answer through a completion the test sees */
function recordingTable(overrides: Partial<Record<OpName, (...args: unknown[]) => unknown>> = {}) {
  const log: Recorder = { calls: [], started: 0, discarded: 0 };
  const handlers = {} as Record<OpName, (...args: unknown[]) => unknown>;
  for (const name of Object.keys(hostOps) as OpName[]) {
    handlers[name] = overrides[name] ?? ((...args: unknown[]) => void log.calls.push([name, args.slice(1)]));
  }
  const start = (_caller: string): Completion<unknown> => {
    const id = 100 + ++log.started;
    return { id, resolve() {}, reject() {}, onAbort() {}, discard: () => void log.discarded++ };
  };
  return { table: OpTable.of(start, handlers as unknown as OpHandlers<OpName, string>), log };
}

test('every declared op has a whole-number arity and a known kind', () => {
  const names = Object.keys(hostOps) as OpName[];
  assert.ok(names.length >= 23, `${names.length} ops`);
  for (const name of names) {
    const { arity, later } = hostOps[name];
    assert.ok(Number.isInteger(arity) && arity >= 0 && arity <= 8, `${name}: arity ${arity}`);
    assert.equal(typeof later, 'boolean', name);
  }
  assert.equal(hostOps.fetch.later, true);
  assert.equal(hostOps.respond.arity, 6);
});

test('a declared op reaches its handler with the caller first and its arguments after', () => {
  const { table, log } = recordingTable({ url: (caller, input, base) => `${caller}:${input}:${base}` });
  assert.equal(table.call('req-1', 'url', ['/x', 'https://a.test']), 'req-1:/x:https://a.test');
  table.call('req-1', 'log', ['warn', 'hello']);
  assert.deepEqual(log.calls, [['log', ['warn', 'hello']]]);
});

test('a later op gets a completion and the isolate gets its op id at once', () => {
  let seen: Completion<unknown> | null = null;
  const { table } = recordingTable({ read: (_caller, op) => void (seen = op as Completion<unknown>) });
  const id = table.call('req-1', 'read', [7]);
  assert.equal(id, 101);
  assert.equal(seen!.id, 101);
});

test('an unknown operation is refused with ISLET_BRIDGE_UNKNOWN_OP, whatever the name is', () => {
  const { table, log } = recordingTable();
  for (const op of ['nope', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'x'.repeat(10_000)]) {
    assert.throws(
      () => table.call(null as unknown as string, op, []),
      (err: unknown) =>
        err instanceof BridgeCallError && err.code === 'ISLET_BRIDGE_UNKNOWN_OP' && err.message.length < 120,
      op.slice(0, 20),
    );
  }
  for (const op of [null, undefined, 42, {}, ['log'], Symbol('log')]) {
    assert.throws(() => table.call('r', op, ['log', 'x']), { code: 'ISLET_BRIDGE_UNKNOWN_OP', message: /not a name/ });
  }
  assert.deepEqual(log.calls, []);
});

test('a call with the wrong number of arguments is refused with ISLET_BRIDGE_ARITY before any handler runs', () => {
  const { table, log } = recordingTable();
  assert.throws(() => table.call('r', 'log', ['info']), {
    code: 'ISLET_BRIDGE_ARITY',
    message: "islet bridge: operation 'log' takes 2 arguments, got 1",
  });
  assert.throws(() => table.call('r', 'uuid', [1]), {
    code: 'ISLET_BRIDGE_ARITY',
    message: /takes 0 arguments, got 1/,
  });
  assert.throws(() => table.call('r', 'clearTimer', [1, 2]), {
    code: 'ISLET_BRIDGE_ARITY',
    message: /takes 1 argument, got 2/,
  });
  // a later op refused for its arity starts no operation
  const { table: later, log: laterLog } = recordingTable();
  assert.throws(() => later.call('r', 'fetch', ['GET']), { code: 'ISLET_BRIDGE_ARITY' });
  assert.equal(laterLog.started, 0);
  assert.deepEqual(log.calls, []);
});

test('a later op whose handler refuses the call leaves no operation behind', () => {
  const { table, log } = recordingTable({
    fetch: () => {
      throw new TypeError('fetch() can only be used while handling a request');
    },
  });
  assert.throws(() => table.call('r', 'fetch', ['GET', 'https://a.test/', [], null, 'follow']), TypeError);
  assert.deepEqual([log.started, log.discarded], [1, 1]);
});

test('inside an isolate, a refused bridge call is an exception the code can catch; the isolate keeps working', () => {
  const { Isolate, Callback } = isolateApi();
  const isolate = new Isolate({ memoryLimit: 16 });
  try {
    const context = isolate.createContextSync();
    const { table } = recordingTable({ uuid: () => 'u-1' });
    const bridge = new Callback((op: unknown, ...args: unknown[]) => table.call('r', op, args));
    context.global.setSync('bridge', bridge);
    const outcome = context.evalSync(
      `const out = [];
      for (const call of [() => bridge('nope'), () => bridge('log', 'x'), () => bridge(Symbol.iterator)]) {
        try { call(); out.push('ran'); } catch (e) { out.push(e.message); }
      }
      out.push(bridge('uuid'));
      JSON.stringify(out)`,
    );
    const [unknown, arity, symbol, uuid] = JSON.parse(outcome) as string[];
    assert.equal(unknown, "islet bridge: unknown operation 'nope'");
    assert.equal(arity, "islet bridge: operation 'log' takes 2 arguments, got 1");
    // a Symbol cannot even be copied out of the isolate: refused on the way, with a message
    assert.ok(symbol !== 'ran' && symbol!.length > 0, symbol);
    assert.equal(uuid, 'u-1');
    assert.equal(context.evalSync('1 + 1'), 2);
  } finally {
    isolate.dispose();
  }
});
