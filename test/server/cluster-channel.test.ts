// The IPC channel between the supervisor and its workers (server/cluster/), with real
// node:cluster workers: asking every worker collects whole answers and names each worker that did
// not answer and why (a slow one timed out, one that died mid-request is gone, one whose handler
// threw failed); a worker's request to the primary is answered, refused or timed out; nothing
// queues without bound. Metrics, tenant logs and the supervisor's hand-off rest on this, and so
// will the fan-out of store changes to every worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import cluster from 'node:cluster';
import path from 'node:path';
import { ClusterError } from '../../server/errors';
import { MAX_PENDING, MAX_UNSENT } from '../../server/cluster/endpoint';
import { PrimaryChannel } from '../../server/cluster/primary-channel';
import { WorkerChannel } from '../../server/cluster/worker-channel';
import { expectedBig, testProtocol } from './cluster-channel-worker';
import { nextMessage } from './cluster-workers';

cluster.setupPrimary({ exec: path.join(__dirname, 'cluster-channel-worker.js') });

/** Forks workers (one per environment), waits until each listens; stops them and the channel after the test. */
async function setup(t: import('node:test').TestContext, envs: Record<string, string>[]) {
  const channel = new PrimaryChannel(testProtocol);
  const workers = envs.map((env) => cluster.fork(env));
  t.after(async () => {
    channel.close();
    await Promise.all(
      workers.map((w) => (w.isDead() ? undefined : new Promise((resolve) => (w.once('exit', resolve), w.kill())))),
    );
  });
  await Promise.all(workers.map((w) => nextMessage(w, 'test:ready')));
  return { channel, workers };
}

test("askAll collects every worker's answer whole, several megabytes each, and names who answered", async (t) => {
  const { channel, workers } = await setup(t, [{}, {}, {}]);
  const args = { text: 'héllo \u2028 "quoted"', nested: { n: [1, 2.5, -3] } };
  const echoed = await channel.askAll('echo', args);
  assert.deepEqual(echoed.missing, []);
  assert.deepEqual(echoed.answers.map((a) => a.worker.id).sort(), workers.map((w) => w.id).sort());
  for (const { worker, value } of echoed.answers) assert.deepEqual(value, { ...args, pid: worker.pid });

  const big = await channel.askAll('big', { items: 300, size: 10_000 });
  assert.equal(big.answers.length, 3);
  const expected = expectedBig(300, 10_000);
  for (const { value } of big.answers) assert.deepEqual(value, expected);
  // only the workers named are asked
  const one = await channel.askAll('echo', args, { workers: [workers[1]] });
  assert.deepEqual(
    one.answers.map((a) => a.worker.id),
    [workers[1].id],
  );
});

test('a slow worker is missing as "timeout" while the others answer; its late answer is ignored', async (t) => {
  const { channel, workers } = await setup(t, [{ SLOW_MS: '0' }, { SLOW_MS: '3000' }, { SLOW_MS: '10' }]);
  const result = await channel.askAll('slow', undefined, { timeoutMs: 800 });
  assert.deepEqual(
    result.answers.map((a) => a.value).sort((a, b) => a - b),
    [0, 10],
  );
  assert.equal(result.missing.length, 1);
  assert.equal(result.missing[0].worker.id, workers[1].id);
  assert.equal(result.missing[0].reason, 'timeout');
  assert.match(result.missing[0].message, /did not answer 'slow' within 800 ms/);
  // the slow worker's answer arrives after the collection finished: nothing breaks, nothing leaks
  await new Promise((resolve) => setTimeout(resolve, 2500));
  assert.equal(channel.stats().pending, 0);
  const again = await channel.askAll('echo', { text: 'x', nested: { n: [] } });
  assert.equal(again.answers.length, 3);
});

test('a worker that dies mid-request is reported "gone" at once, not after the timeout', {
  timeout: 60_000,
}, async (t) => {
  const { channel, workers } = await setup(t, [{}, { DIE: '1' }]);
  const exited = new Promise((resolve) => workers[1].once('exit', resolve));
  // a timeout far longer than the test may take: only the worker's death can end this early
  const result = await channel.askAll('maybeDie', undefined, { timeoutMs: 600_000 });
  await exited;
  assert.deepEqual(
    result.answers.map((a) => a.value),
    [workers[0].process.pid],
  );
  assert.equal(result.missing.length, 1);
  assert.equal(result.missing[0].worker.id, workers[1].id);
  assert.equal(result.missing[0].reason, 'gone');
  assert.match(result.missing[0].message, /exited before answering 'maybeDie'/);
  // a dead worker is no longer asked at all
  const after = await channel.askAll('echo', { text: 'x', nested: { n: [] } });
  assert.deepEqual(after.missing, []);
  assert.deepEqual(
    after.answers.map((a) => a.worker.id),
    [workers[0].id],
  );
});

test('a handler that throws, or no handler at all, is "failed" with the reason; no worker: empty', async (t) => {
  const { channel } = await setup(t, [{}, {}]);
  const failed = await channel.askAll('fail', { message: 'the disk is full' });
  assert.equal(failed.answers.length, 0);
  assert.deepEqual(
    failed.missing.map((m) => [m.reason, m.message]),
    [
      ['failed', 'the disk is full'],
      ['failed', 'the disk is full'],
    ],
  );
  const unhandled = await channel.askAll('unhandled', undefined);
  assert.deepEqual(
    unhandled.missing.map((m) => m.reason),
    ['failed', 'failed'],
  );
  assert.match(unhandled.missing[0].message, /no handler for 'unhandled'/);
  assert.deepEqual(await channel.askAll('echo', { text: '', nested: { n: [] } }, { workers: [] }), {
    answers: [],
    missing: [],
  });
});

test('a worker asks the primary: answered, refused without a handler, timed out when it is slow', async (t) => {
  const { channel, workers } = await setup(t, [{}]);
  const worker = workers[0];
  channel.handle('add', ({ a, b }) => a + b);
  channel.handle('wait', ({ ms }) => new Promise((resolve) => setTimeout(() => resolve(`waited ${ms}`), ms)));
  const ask = async (kind: string, args: unknown, timeoutMs?: number) => {
    const answer = nextMessage<{ ok: boolean; value?: unknown; code?: string; message?: string }>(worker, 'test:asked');
    worker.send({ type: 'test:ask', kind, args, timeoutMs });
    return answer;
  };
  assert.deepEqual(await ask('add', { a: 2, b: 40 }), { type: 'test:asked', ok: true, value: 42 });
  assert.deepEqual(await ask('wait', { ms: 10 }), { type: 'test:asked', ok: true, value: 'waited 10' });
  const nobody = await ask('nobody', undefined);
  assert.equal(nobody.code, 'ISLET_CLUSTER_FAILED');
  assert.match(nobody.message!, /no handler for 'nobody'/);
  const late = await ask('wait', { ms: 2000 }, 200);
  assert.equal(late.code, 'ISLET_CLUSTER_TIMEOUT');
  assert.match(late.message!, /did not answer 'wait' within 200 ms/);
});

test('no queue without bound: asks past MAX_PENDING refused, lossy notices past MAX_UNSENT dropped', async (t) => {
  const { channel, workers } = await setup(t, [{ SLOW_MS: '300' }]);
  const waiting = Array.from({ length: MAX_PENDING }, () => channel.askAll('slow', undefined));
  await assert.rejects(
    channel.askAll('slow', undefined),
    (error: unknown) => error instanceof ClusterError && error.code === 'ISLET_CLUSTER_BUSY',
  );
  const done = await Promise.all(waiting);
  assert.ok(
    done.every((r) => r.answers.length === 1),
    'the asks within the bound are answered',
  );
  assert.equal(channel.stats().pending, 0);

  // a worker writing notices faster than the pipe drains: the lossy ones past the bound are dropped
  let received = 0;
  channel.on('tick', () => received++);
  const flood = nextMessage<{ refused: number; dropped: number }>(workers[0], 'test:flooded');
  workers[0].send({ type: 'test:flood', count: MAX_UNSENT * 20 });
  const { refused, dropped } = await flood;
  assert.ok(refused > 0, 'some notices were refused instead of queued');
  assert.equal(dropped, refused);
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(received, MAX_UNSENT * 20 - refused, 'every notice not refused arrived');
});

test('each end refuses the wrong process and a second channel of one protocol', () => {
  assert.throws(
    () => new WorkerChannel(testProtocol),
    (error: unknown) => error instanceof ClusterError && error.code === 'ISLET_CLUSTER_WRONG_PROCESS',
  );
  const channel = new PrimaryChannel(testProtocol);
  try {
    assert.throws(() => new PrimaryChannel(testProtocol), /already has a primary channel/);
  } finally {
    channel.close();
  }
});

test('the message table types every call (checked when the tests compile)', () => {
  const check = (channel: PrimaryChannel<typeof testProtocol>) => {
    // @ts-expect-error: not a request of the table
    void channel.askAll('nope', undefined);
    // @ts-expect-error: the argument of 'add' is { a, b }
    channel.handle('add', (args: { a: string }) => Number(args.a));
    // @ts-expect-error: 'echo' answers an object, not a number
    void channel.askAll('echo', { text: '', nested: { n: [] } }).then((r) => r.answers[0].value.toFixed());
  };
  assert.equal(typeof check, 'function');
});
