// Tenant logs under the supervisor: each worker process keeps only the lines it wrote, yet a
// client reading or following a tenant's logs through any worker sees every worker's lines,
// once each and in time order. Real node:cluster workers, each with its own LogHub.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import path from 'node:path';
import { ClusterLogs } from '../../server/observe/tenant-logs/cluster';
import { LogHub } from '../../server/observe/tenant-logs/hub';
import { nextMessage } from './cluster-workers';
import { Logger } from '../../server/observe/server-log';

const root = path.resolve(__dirname, '../../..');

async function log(worker: Worker, tenant: string, message: string): Promise<void> {
  const done = nextMessage(worker, 'test:logged');
  worker.send({ type: 'test:log', tenant, message });
  await done;
  // distinct milliseconds, so the expected order by time is unambiguous
  await new Promise((resolve) => setTimeout(resolve, 3));
}

async function recent(worker: Worker, tenant: string, limit: number): Promise<string[]> {
  const answer = nextMessage<{ lines: string[] }>(worker, 'test:recent');
  worker.send({ type: 'test:recent', tenant, limit });
  return (await answer).lines.map((l) => JSON.parse(l).msg as string);
}

test("any worker reads and follows a tenant's lines from every worker", async (t) => {
  cluster.setupPrimary({ exec: path.join(root, 'test/fixtures/metrics/cluster-logs-worker.js') });
  const logs = new ClusterLogs({ timeoutMs: 2000 });
  const [a, b] = [cluster.fork(), cluster.fork()];
  t.after(async () => {
    logs.close();
    await Promise.all([a, b].map((w) => (w.isDead() ? undefined : new Promise((resolve) => (w.once('exit', resolve), w.kill())))));
  });
  await Promise.all([nextMessage(a, 'test:ready'), nextMessage(b, 'test:ready')]);

  await log(a, 'shop', 'a1');
  await log(b, 'shop', 'b1');
  await log(a, 'blog', 'not shop');
  await log(a, 'shop', 'a2');
  assert.deepEqual(await recent(b, 'shop', 10), ['a1', 'b1', 'a2']);
  assert.deepEqual(await recent(a, 'shop', 2), ['b1', 'a2']);
  assert.deepEqual(await recent(a, 'blog', 10), ['not shop']);

  const followed: string[] = [];
  b.on('message', (m: { type: string; line?: string }) => {
    if (m.type === 'test:followed') followed.push(JSON.parse(m.line!).msg);
  });
  const following = nextMessage(b, 'test:following');
  b.send({ type: 'test:follow', tenant: 'shop' });
  await following;
  await log(a, 'shop', 'a3');
  await log(b, 'shop', 'b2');
  await log(a, 'blog', 'still not shop');
  await log(a, 'shop', 'a4');
  const deadline = Date.now() + 5000;
  while (followed.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  // a line may still be on its way: give it the chance to show up twice before comparing
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(followed, ['a3', 'b2', 'a4']);
});

test('joinCluster refuses to run outside a cluster worker', () => {
  const hub = new LogHub(new Logger('info', () => {}));
  assert.throws(() => hub.joinCluster(), /joinCluster\(\) must be called in a node:cluster worker/);
});
