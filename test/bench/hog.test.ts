// The CPU hog of `bench:peers --contention` really takes CPU, says how much, and goes away.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { startHog } from '../../bench/peers/hog';

test('the hog spins its processes, counts their CPU time and kills them', async (t) => {
  if (!fs.existsSync('/proc/self/stat')) return t.skip('reads CPU time from /proc (Linux only)');
  const hog = startHog(1);
  let stopped = false;
  try {
    const start = hog.cpuSeconds();
    const deadline = Date.now() + 10_000;
    // even on a loaded machine a spinning process gets some CPU within seconds
    while (hog.cpuSeconds() - start < 0.05 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(hog.cpuSeconds() - start >= 0.05, `the hog used ${hog.cpuSeconds() - start} s of CPU`);
    await hog.stop();
    stopped = true;
    assert.equal(hog.cpuSeconds(), 0, 'the processes are gone (reaped: no /proc entry left)');
  } finally {
    if (!stopped) await hog.stop();
  }
});

test('the hog refuses a thread count it cannot run', () => {
  assert.throws(() => startHog(0), /1 to 256 threads/);
  assert.throws(() => startHog(1.5), /1 to 256 threads/);
});
