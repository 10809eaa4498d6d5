// The load harness the benchmarks share: what it reports must match what the server did.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { runLoad } from '../../bench/lib/loadgen';
import { median, percentileSorted } from '../../bench/lib/stats';

function serve(status: number): Promise<{ url: string; seen: () => number; close: () => Promise<void> }> {
  let seen = 0;
  const server = http.createServer((req, res) => {
    seen++;
    req.resume();
    req.on('end', () => res.writeHead(status, { 'content-type': 'text/plain' }).end('hi'));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`,
        seen: () => seen,
        close: () => new Promise((r) => server.close(() => r())),
      }),
    ),
  );
}

test('runLoad counts the 2xx answers it got and their latency percentiles', async () => {
  const srv = await serve(200);
  try {
    const r = await runLoad({
      url: srv.url,
      method: 'POST',
      body: '{"a":1}',
      connections: 4,
      warmupSeconds: 0,
      durationSeconds: 1,
    });
    assert.ok(r.ok > 0, 'some requests were answered');
    assert.equal(r.non2xx, 0);
    assert.ok(r.ok <= srv.seen(), 'no more answers counted than the server gave');
    assert.ok(r.requestsPerSecond > 0 && Math.abs(r.requestsPerSecond - r.ok / r.durationSeconds) < 1e-6);
    assert.ok(r.latencyMs.p50 > 0 && r.latencyMs.p50 <= r.latencyMs.p99 && r.latencyMs.p99 <= r.latencyMs.max);
    assert.equal(r.statusCodes['200'], r.ok);
  } finally {
    await srv.close();
  }
});

test('runLoad reports error answers as failures, not as throughput', async () => {
  const srv = await serve(503);
  try {
    const r = await runLoad({ url: srv.url, connections: 2, warmupSeconds: 0, durationSeconds: 1 });
    assert.equal(r.ok, 0);
    assert.equal(r.requestsPerSecond, 0);
    assert.ok(r.non2xx > 0);
    assert.ok(r.statusCodes['503'] > 0);
  } finally {
    await srv.close();
  }
});

test('runLoad counts connection errors when nothing listens', async () => {
  const srv = await serve(200);
  const url = srv.url;
  await srv.close();
  const r = await runLoad({ url, connections: 1, warmupSeconds: 0, durationSeconds: 1 });
  assert.equal(r.ok, 0);
  assert.ok(r.errors > 0, 'connection errors are counted');
});

test('median and nearest-rank percentiles', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentileSorted(sorted, 50), 50);
  assert.equal(percentileSorted(sorted, 99), 99);
  assert.equal(percentileSorted(sorted, 100), 100);
  assert.equal(percentileSorted([7], 99), 7);
});
