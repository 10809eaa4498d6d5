// The process-wide pools of host work (server/host/work-pool.ts) and the charging of their jobs
// to requests (server/host/host-work.ts, server/host/pool-meter.ts): tenants take turns, none
// holds more than its share, cheap jobs get the express slot, cancelled jobs free their slot, a
// job's CPU (not its waiting) is charged to its request, and a job running past what its request
// has left cuts the request while it runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type { LimitExceededError } from '../../server/errors';
import { HostWork } from '../../server/host/host-work';
import { RequestRun } from '../../server/host/run';
import { dnsPool, WorkPool, type PoolOptions } from '../../server/host/work-pool';
import { testLimits } from '../shims/helpers';

/** a job that runs until released; `started` lists the names of the jobs that got a slot, in order */
function controlled(pool: WorkPool, started: string[]) {
  return (tenant: string, name: string, cheap = false) => {
    let release!: (value: string) => void;
    const job = pool.submit(
      tenant,
      (signal) =>
        new Promise<string>((resolve, reject) => {
          release = resolve;
          started.push(name);
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
      { cheap },
    );
    return { job, release: (value = name) => release(value) };
  };
}

const options = (o: Partial<PoolOptions>): PoolOptions => ({
  slots: 1,
  expressSlots: 0,
  perTenant: 1,
  maxQueued: 100,
  ...o,
});
const tick = () => new Promise((r) => setImmediate(r));

test('tenants take turns: a job of a second tenant runs before the rest of a first tenant flood', async () => {
  const started: string[] = [];
  const run = controlled(new WorkPool('t', options({})), started);
  const flood = ['a1', 'a2', 'a3', 'a4'].map((name) => run('a', name));
  const other = run('b', 'b1');
  assert.deepEqual(started, ['a1']);
  flood[0].release();
  await tick();
  assert.deepEqual(started, ['a1', 'b1'], 'b was next, not a2');
  other.release();
  await tick();
  assert.deepEqual(started, ['a1', 'b1', 'a2']);
  for (const f of flood.slice(1)) {
    f.release();
    await tick();
  }
  assert.equal(await flood[3].job.result, 'a4');
});

test('a tenant holds at most its share of the slots; the others stay free for the other tenants', async () => {
  const started: string[] = [];
  const pool = new WorkPool('t', options({ slots: 2, perTenant: 1 }));
  const run = controlled(pool, started);
  const a = [run('a', 'a1'), run('a', 'a2'), run('a', 'a3')];
  assert.deepEqual(started, ['a1'], 'one slot stays free although a has more waiting');
  run('b', 'b1');
  assert.deepEqual(started, ['a1', 'b1'], 'b runs at once');
  assert.deepEqual(pool.stats().tenants, { a: { running: 1, queued: 2 }, b: { running: 1, queued: 0 } });
  a[0].release();
  await tick();
  assert.deepEqual(started, ['a1', 'b1', 'a2']);
});

test('cheap jobs get the express slot while every ordinary slot holds a long job', async () => {
  const started: string[] = [];
  const run = controlled(new WorkPool('t', options({ slots: 1, expressSlots: 1 })), started);
  run('a', 'long');
  run('b', 'b-long');
  run('c', 'c-cheap', true);
  assert.deepEqual(started, ['long', 'c-cheap'], 'the cheap job ran at once; the long one of b waits');
});

test('a cancelled job: a queued one leaves at once; a running one is told and keeps its slot until it stops', async () => {
  const started: string[] = [];
  const pool = new WorkPool('t', options({}));
  const run = controlled(pool, started);
  const first = run('a', 'first');
  const queued = run('b', 'queued');
  const after = run('c', 'after');
  queued.job.cancel();
  await assert.rejects(queued.job.result, { name: 'AbortError' });
  assert.equal(pool.stats().queued, 1);
  first.job.cancel();
  await assert.rejects(first.job.result, { name: 'AbortError' }, 'the running job heard the cancel and stopped');
  await tick();
  assert.deepEqual(started, ['first', 'after'], 'its slot went to the next job once it stopped');
  after.release();
  assert.equal(await after.job.result, 'after');
  assert.deepEqual(pool.stats(), { running: 0, queued: 0, tenants: {} });
});

test('past maxQueued a submission fails at once', async () => {
  const pool = new WorkPool('t', options({ maxQueued: 2 }));
  const run = controlled(pool, []);
  run('a', '1');
  run('a', '2');
  run('a', '3');
  await assert.rejects(run('a', '4').job.result, /more than 2 operations waiting/);
});

test('outcomes go out from the event loop: jobs that finish at once cannot starve I/O', async () => {
  const pool = new WorkPool('t', options({}));
  let chained = 0;
  let timerFiredAt = -1;
  setTimeout(() => {
    timerFiredAt = chained;
  }, 0);
  for (let i = 0; i < 200; i++) {
    await pool.submit('a', async () => i).result;
    chained++;
  }
  assert.ok(timerFiredAt >= 0 && timerFiredAt < 200, `a timer ran while the chain went on (after ${timerFiredAt})`);
});

function workFor(cpuMs: number) {
  const cuts: LimitExceededError[] = [];
  const work = new HostWork({ tenant: 't', defaults: testLimits, cut: (_run, error) => cuts.push(error) });
  const run = new RequestRun(
    1,
    { id: 'r', method: 'GET', url: 'http://t/', headers: [], body: null },
    {
      ...testLimits,
      cpuMs,
      wallMs: 60_000,
    },
  );
  return { work, run, cuts };
}

test('a job that only waits is charged almost nothing; one that computes is charged its CPU', async () => {
  const { work, run, cuts } = workFor(5000);
  const pool = new WorkPool('t', options({ slots: 2 }));
  await work.run(pool, run, () => new Promise((r) => setTimeout(r, 150)), 5);
  const waited = run.cpuMs();
  assert.ok(waited < 40, `150 ms of waiting charged ${waited.toFixed(1)} ms`);
  const before = run.cpuMs();
  await work.run(pool, run, () => new Promise((r) => crypto.pbkdf2('pw', 'salt', 150_000, 32, 'sha256', r)), 50);
  const computed = run.cpuMs() - before;
  assert.ok(computed > 10, `a PBKDF2 of 150,000 iterations charged ${computed.toFixed(1)} ms`);
  assert.deepEqual(cuts, []);
});

test('a job running past what its request has left cuts the request while it runs', async () => {
  const { work, run, cuts } = workFor(10);
  const pool = new WorkPool('t', options({}));
  const job = work.run(pool, run, () => new Promise((r) => crypto.pbkdf2('pw', 'salt', 600_000, 32, 'sha256', r)), 50);
  const cutSeen = new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (cuts.length > 0) {
        clearInterval(poll);
        resolve();
      }
    }, 1);
  });
  const first = await Promise.race([cutSeen.then(() => 'cut'), job.then(() => 'done')]);
  assert.equal(first, 'cut', 'the request was cut before the job ended');
  assert.equal(cuts[0].limit, 'cpu');
  await job;
});

test('the jobs of a request that ends are cancelled: queued ones never run', async () => {
  const { work, run } = workFor(5000);
  const pool = new WorkPool('t', options({}));
  const ran: number[] = [];
  let release!: () => void;
  const first = work.run(pool, run, () => new Promise<void>((r) => (release = r)), 5);
  const rest = [1, 2, 3].map((n) => work.run(pool, run, async () => void ran.push(n), 5));
  assert.equal(run.work.size, 4);
  assert.equal(run.ownsAnything, true);
  work.releaseRun(run);
  for (const p of rest) await assert.rejects(p, { name: 'AbortError' });
  release();
  await first.catch(() => {});
  assert.deepEqual(ran, []);
  assert.equal(run.work.size, 0);
});

test("the DNS pool: a tenant whose lookups hang holds one slot, another tenant's lookup runs at once", async () => {
  const started: string[] = [];
  const run = controlled(dnsPool, started);
  const slow = [1, 2, 3, 4].map((n) => run('slow-dns', `slow${n}`));
  assert.deepEqual(started, ['slow1']);
  const other = run('other', 'other');
  assert.deepEqual(started, ['slow1', 'other']);
  assert.deepEqual(dnsPool.stats().tenants['slow-dns'], { running: 1, queued: 3 });
  other.release();
  for (const s of slow) s.job.cancel();
  await Promise.allSettled(slow.map((s) => s.job.result));
  assert.deepEqual(dnsPool.stats(), { running: 0, queued: 0, tenants: {} });
});
