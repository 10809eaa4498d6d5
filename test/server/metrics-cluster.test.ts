// With several worker processes, one scrape returns the sum over all workers: real node:cluster
// workers each record known amounts; the supervisor's ClusterMetrics adds them up, a scrape that
// lands on any worker returns the same sum, and a worker that cannot answer is left out visibly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import cluster from 'node:cluster';
import path from 'node:path';
import { ClusterMetrics } from '../../server/observe/metrics/cluster';
import { Metrics } from '../../server/observe/metrics/metrics';
import { needs, promtool } from '../support/system';
import { nextMessage } from './cluster-workers';

const root = path.resolve(__dirname, '../../..');

function value(text: string, line: RegExp): number | undefined {
  const match = text.split('\n').find((l) => line.test(l));
  return match === undefined ? undefined : Number(match.slice(match.lastIndexOf(' ') + 1));
}

test('the supervisor aggregates every worker and any worker can serve the summed scrape', async (t) => {
  cluster.setupPrimary({ exec: path.join(root, 'test/fixtures/metrics/cluster-worker.js'), silent: false });
  const aggregator = new ClusterMetrics({ timeoutMs: 500 });
  const workers = [cluster.fork({ WORKER_REQUESTS: '3' }), cluster.fork({ WORKER_REQUESTS: '5' })];
  t.after(async () => {
    aggregator.close();
    await Promise.all(
      workers.map((w) => (w.isDead() ? undefined : new Promise((resolve) => (w.once('exit', resolve), w.kill())))),
    );
  });
  await Promise.all(workers.map((w) => nextMessage(w, 'test:ready')));

  const { body } = await aggregator.scrape();
  assert.equal(value(body, /^islet_requests_total\{.*tenant="shop".*\} /), 8, body);
  assert.equal(value(body, /^islet_request_duration_seconds_count\{tenant="shop"\} /), 8);
  assert.equal(value(body, /^islet_isolate_cpu_seconds_total\{tenant="shop"\} /), 0.5);
  assert.equal(value(body, /^islet_isolate_wall_seconds_total\{tenant="shop"\} /), 1);
  assert.equal(value(body, /^islet_cold_starts_total\{tenant="shop"\} /), 2);
  assert.equal(value(body, /^islet_isolates\{state="warm"\} /), 2);
  assert.equal(value(body, /^islet_isolate_heap_used_bytes\{tenant="shop"\} /), 2000);
  assert.equal(value(body, /^islet_cluster_workers\{state="answered"\} /), 2);
  assert.equal(value(body, /^islet_cluster_workers\{state="missing"\} /), 0);
  assert.ok(value(body, /^process_resident_memory_bytes /)! > 0, 'default metrics come through the aggregation');
  await t.test('promtool check metrics accepts the aggregated scrape', needs(promtool), () => {
    const check = spawnSync(promtool.path ?? 'promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
    assert.ok(!check.error, `promtool did not run: ${check.error?.message}`);
    assert.equal(check.status, 0, `promtool check metrics on the aggregated scrape:\n${check.stdout}${check.stderr}`);
  });

  // a client scraping the shared admin port reaches one worker; it answers with the sum
  workers[1].send({ type: 'test:scrape' });
  const fromWorker = await nextMessage<{ body?: string; error?: string }>(workers[1], 'test:scraped');
  assert.equal(fromWorker.error, undefined);
  assert.equal(value(fromWorker.body!, /^islet_requests_total\{.*tenant="shop".*\} /), 8);

  // a worker stuck in synchronous work is left out after the timeout, and the scrape says so
  workers[0].send({ type: 'test:hang', ms: 1500 });
  const partial = (await aggregator.scrape()).body;
  assert.equal(value(partial, /^islet_requests_total\{.*tenant="shop".*\} /), 5);
  assert.equal(value(partial, /^islet_cluster_workers\{state="answered"\} /), 1);
  assert.equal(value(partial, /^islet_cluster_workers\{state="missing"\} /), 1);

  // once it is responsive again (its messages are handled in order), a worker that died is no
  // longer waited for
  workers[0].send({ type: 'test:ping' });
  await nextMessage(workers[0], 'test:pong');
  await new Promise((resolve) => (workers[1].once('exit', resolve), workers[1].process.kill('SIGKILL')));
  const started = Date.now();
  const afterDeath = (await aggregator.scrape()).body;
  assert.equal(value(afterDeath, /^islet_cluster_workers\{state="answered"\} /), 1);
  assert.equal(value(afterDeath, /^islet_requests_total\{.*tenant="shop".*\} /), 3);
  assert.ok(Date.now() - started < 5000);
});

test('joinCluster refuses to run outside a cluster worker', () => {
  const metrics = new Metrics({ defaultMetrics: false });
  assert.throws(() => metrics.joinCluster(), /joinCluster\(\) must be called in a node:cluster worker/);
});
