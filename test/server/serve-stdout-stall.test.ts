// islet's stdout on a pipe its reader stops draining (a stuck log shipper, a paused
// `docker logs`): serving goes on. `islet serve --workers 2` (real processes) logs one line per
// request while a client keeps it busy; phases where the test reads stdout and phases where it
// does not alternate, and requests are counted in each. What operators rely on: the stalled
// phases serve at least half as many requests as the drained ones (the criterion; the
// margin is generous for a noisy shared machine, and the phases interleave so drift hits both),
// no request fails, the dropped-lines counter moves, and once the reader resumes it gets whole
// JSON lines only, one of them saying how many were dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { Agent } from 'undici';
import { deploy, hit, scrape, series, startClusterIslet, until } from './cluster-islet';

/** reads a child's stdout line by line, checking each is one whole JSON object, while `reading` */
function stdoutReader() {
  let child: ChildProcess | undefined;
  let carry = '';
  const state = { lines: 0, broken: [] as string[], dropReports: 0, reading: true, text: '' };
  const take = (chunk: string) => {
    const text = carry + chunk;
    const end = text.lastIndexOf('\n');
    carry = end === -1 ? text : text.slice(end + 1);
    if (end === -1) return;
    for (const line of text.slice(0, end).split('\n')) {
      state.lines++;
      try {
        const record = JSON.parse(line) as { msg?: string };
        if (record.msg?.startsWith('log lines dropped')) state.dropReports++;
      } catch {
        if (state.broken.length < 5) state.broken.push(line.slice(0, 200));
      }
    }
    // the start-up lines are kept for the supervisor's banner (cluster-islet reads stderr for it)
    if (state.text.length < 100_000) state.text += chunk;
  };
  return {
    state,
    attach(c: ChildProcess) {
      child = c;
      c.stdout!.setEncoding('utf8');
      c.stdout!.on('data', take);
    },
    pause() {
      state.reading = false;
      child!.stdout!.pause();
    },
    resume() {
      state.reading = true;
      child!.stdout!.resume();
    },
  };
}

test('a stdout nobody reads does not slow serving: throughput, no failed request, whole lines after', async (t) => {
  const reader = stdoutReader();
  const islet = await startClusterIslet({
    workers: 2,
    // a small buffer, so a few seconds of stall overflow it on a slow machine too
    env: { ISLET_LOG_REQUESTS: 'true', ISLET_LOG_BUFFER_BYTES: '65536' },
    onStdout: (child) => reader.attach(child),
  });
  const agent = new Agent({ connections: 16 });
  let load: Promise<void> | undefined;
  let running = true;
  try {
    await deploy(islet, 'hello', `export default { fetch() { return new Response('hello'); } };`);
    await until('hello to answer', async () =>
      (await hit(islet, 'hello.localhost')).status === 200 ? true : undefined,
    );

    let completed = 0;
    const failures: string[] = [];
    const loop = async () => {
      while (running) {
        try {
          const reply = await hit(islet, 'hello.localhost', '/', { dispatcher: agent, timeoutMs: 30_000 });
          if (reply.status === 200 && reply.text === 'hello') completed++;
          else failures.push(`${reply.status} ${reply.text.slice(0, 100)}`);
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    };
    load = Promise.all(Array.from({ length: 16 }, loop)).then(() => {});
    await new Promise((r) => setTimeout(r, 1000)); // warm-up

    const counts = { drained: 0, stalled: 0 };
    for (let round = 0; round < 3; round++) {
      for (const phase of ['drained', 'stalled'] as const) {
        if (phase === 'stalled') reader.pause();
        else reader.resume();
        // the first moments of a stall only fill the pipe's buffer: count after them
        await new Promise((r) => setTimeout(r, 700));
        const before = completed;
        await new Promise((r) => setTimeout(r, 1500));
        counts[phase] += completed - before;
      }
    }
    // still stalled: the counter has moved
    const dropped = series(await scrape(islet), 'islet_log_lines_dropped_total', 'reason="stdout_full"');
    reader.resume();
    running = false;
    await load;
    load = undefined;

    t.diagnostic(
      `requests in 3 x 1.5 s: stdout drained ${counts.drained}, stalled ${counts.stalled} ` +
        `(ratio ${(counts.stalled / counts.drained).toFixed(2)}); failed ${failures.length}; ` +
        `lines dropped (stdout_full) ${dropped}`,
    );
    assert.deepEqual(failures, [], 'requests failed');
    assert.ok(counts.drained > 300, `too little traffic to compare: ${JSON.stringify(counts)}`);
    assert.ok(
      counts.stalled >= counts.drained / 2,
      `with stdout stalled, ${counts.stalled} requests; drained, ${counts.drained} (same durations, interleaved)`,
    );
    assert.ok(dropped > 0, 'islet_log_lines_dropped_total{reason="stdout_full"} did not move');
    await until('the dropped-lines report once the reader is back', () =>
      reader.state.dropReports > 0 ? true : undefined,
    );
    assert.deepEqual(reader.state.broken, [], 'stdout carried a line that is not whole');
    assert.ok(reader.state.lines > counts.drained / 4, `few lines read: ${reader.state.lines}`);
    t.diagnostic(`after the stall: ${reader.state.lines} whole lines read, ${reader.state.broken.length} broken`);
  } finally {
    running = false;
    await load;
    await agent.close();
    reader.resume();
    await islet.stop();
  }
});
