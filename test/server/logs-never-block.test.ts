// The server log never makes serving wait for its reader. What operators rely on: a log call
// returns at once whatever the reader does; when the reader lags, lines wait in a bounded buffer
// and past it whole pieces are dropped, request lines before info, info before warnings,
// warnings before errors; the drops are counted (islet_log_lines_dropped_total{reason}) and said
// in ONE line once the reader caught up; what is written is whole lines, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FdWriter, LineClass } from '../../server/observe/fd-writer';
import { droppedTotals } from '../../server/observe/log-drops';
import { Metrics } from '../../server/observe/metrics/metrics';
import { Logger, batchedSink } from '../../server/observe/server-log';

const root = path.resolve(__dirname, '../../..');

/** a descriptor whose reader can be stopped: writes fail with EAGAIN while `full` */
function fakeDescriptor() {
  const written: Buffer[] = [];
  const state = { full: false, calls: 0 };
  const writeSync = (_fd: number, data: Buffer): number => {
    state.calls++;
    if (state.full)
      throw Object.assign(new Error('EAGAIN: resource temporarily unavailable, write'), { code: 'EAGAIN' });
    written.push(Buffer.from(data));
    return data.length;
  };
  return { written, state, writeSync, text: () => Buffer.concat(written).toString('utf8') };
}

const stdoutFull = () => droppedTotals().get('stdout_full') ?? 0;

test('a stalled reader never blocks a log call; past the bound request lines go first, error lines last', async () => {
  const fd = fakeDescriptor();
  const writer = new FdWriter(1, 'stdout', { maxBacklogBytes: 16 * 1024, writeSync: fd.writeSync, maxRetryMs: 5 });
  const logger = new Logger('info', batchedSink(writer, { pipeSafe: true }));
  const before = stdoutFull();
  logger.info('before the stall');
  logger.flush();
  fd.state.full = true;

  const started = process.hrtime.bigint();
  for (let i = 0; i < 2000; i++) {
    logger.writeLine(
      'info',
      JSON.stringify({ time: 't', level: 'info', msg: 'request', n: i }),
      undefined,
      LineClass.Request,
    );
    if (i % 100 === 0) logger.warn('a warning', { i });
    if (i % 500 === 0) logger.error('an error', { i });
    if (i % 50 === 0) await sleep(0);
  }
  logger.flush();
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  // no call waited for the reader: 2,000 lines take a few ms, never the seconds a sleeping retry took
  assert.ok(elapsedMs < 2000, `logging with a stalled reader took ${elapsedMs} ms`);
  assert.ok(writer.backlogBytes <= 16 * 1024, `the backlog grew past its bound: ${writer.backlogBytes}`);
  const dropped = stdoutFull() - before;
  assert.ok(dropped > 1000, `expected most request lines dropped, got ${dropped}`);

  fd.state.full = false;
  await sleep(30);
  assert.equal(writer.backlogged, false, 'the backlog drained once the reader came back');
  const lines = fd.text().trimEnd().split('\n');
  const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(records[0]!.msg, 'before the stall');
  // every warning and error survived; request lines were the ones dropped
  assert.equal(records.filter((r) => r.msg === 'an error').length, 4);
  assert.equal(records.filter((r) => r.msg === 'a warning').length, 20);
  const kept = records.filter((r) => r.msg === 'request').map((r) => r.n as number);
  assert.ok(kept.length < 2000 - 1000);
  for (let i = 1; i < kept.length; i++) assert.ok(kept[i]! > kept[i - 1]!, 'request lines out of order');
  // one line, at the end, says what the reader missed
  const reports = records.filter((r) => String(r.msg).startsWith('log lines dropped'));
  assert.equal(reports.length, 1);
  assert.equal(reports[0], records[records.length - 1]);
  assert.equal(reports[0]!.dropped, dropped);
  assert.equal(reports[0]!.request, dropped);
  assert.equal(reports[0]!.error, 0);
});

test('when only error lines are left to drop, the oldest go first and the newest are kept', async () => {
  const fd = fakeDescriptor();
  const writer = new FdWriter(1, 'stdout', { maxBacklogBytes: 8 * 1024, writeSync: fd.writeSync, maxRetryMs: 5 });
  const logger = new Logger('info', batchedSink(writer, { pipeSafe: true }));
  fd.state.full = true;
  for (let i = 0; i < 400; i++) logger.error('failure', { i, pad: 'x'.repeat(100) });
  fd.state.full = false;
  await sleep(30);
  const records = fd
    .text()
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const kept = records.filter((r) => r.msg === 'failure').map((r) => r.i as number);
  assert.ok(kept.length > 10 && kept.length < 400);
  assert.equal(kept[kept.length - 1], 399, 'the newest error line is kept');
  const report = records[records.length - 1]!;
  assert.equal(report.error, 400 - kept.length);
});

test('the dropped-lines counter is exported with every reason, and moves when lines are dropped', async () => {
  const metrics = new Metrics({ defaultMetrics: false, rebalanceIntervalMs: 0 });
  const scrape = async () => (await metrics.scrape()).body;
  const value = (body: string, reason: string) =>
    Number(new RegExp(`^islet_log_lines_dropped_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(body)?.[1]);
  const first = await scrape();
  for (const reason of ['stdout_full', 'stdout_closed', 'stderr_full', 'follower', 'relay_full']) {
    assert.ok(Number.isFinite(value(first, reason)), `no series for reason ${reason}`);
  }
  const fd = fakeDescriptor();
  const writer = new FdWriter(1, 'stdout', { maxBacklogBytes: 4096, writeSync: fd.writeSync });
  fd.state.full = true;
  for (let i = 0; i < 100; i++)
    writer.write({ text: `${'y'.repeat(99)}\n`, top: LineClass.Request, counts: [1, 0, 0, 0] });
  const second = await scrape();
  assert.ok(value(second, 'stdout_full') >= value(first, 'stdout_full') + 50);
  writer.flushNow();
});

test('a closed stdout drops and counts, and says so once, without throwing into the caller', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    const writer = new FdWriter(1, 'stdout', {
      writeSync: () => {
        throw Object.assign(new Error('EPIPE: broken pipe, write'), { code: 'EPIPE' });
      },
    });
    const before = droppedTotals().get('stdout_closed')!;
    for (let i = 0; i < 5; i++) writer.write({ text: 'a\nb\n', top: LineClass.Info, counts: [0, 2, 0, 0] });
    assert.equal(droppedTotals().get('stdout_closed')! - before, 10);
    await sleep(5);
    assert.equal(warnings.filter((w) => /could not be written to stdout/.test(w.message)).length, 1);
  } finally {
    process.off('warning', onWarning);
  }
});

test('a real pipe nobody reads: the process keeps its pace, and the reader later gets whole lines only', async () => {
  // a child logs 40,000 lines while its stdout is not read; it must finish at its own pace
  const script = `
    const { Logger } = require(${JSON.stringify(path.join(root, 'dist/server/observe/server-log.js'))});
    const logger = new Logger('info');
    let n = 0;
    const started = Date.now();
    const burst = () => {
      for (let i = 0; i < 400; i++) logger.info('line', { n: n++, pad: 'z'.repeat(n % 200) });
      if (n < 40000) setImmediate(burst);
      else { process.stderr.write('done ' + (Date.now() - started) + '\\n'); setTimeout(() => {}, 1500); }
    };
    burst();
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pause();
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const done = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the child did not finish while its stdout was stalled: ${err}`)),
      20_000,
    );
    child.stderr.on('data', () => {
      const m = /done (\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  assert.ok(done < 15_000, `logging took ${done} ms`);
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => (out += d));
  child.stdout.resume();
  await new Promise((resolve) => child.on('exit', resolve));
  const lines = out.trimEnd().split('\n');
  const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  const numbers = records.filter((r) => r.msg === 'line').map((r) => r.n as number);
  assert.ok(numbers.length < 40000, 'some lines were dropped');
  for (let i = 1; i < numbers.length; i++) assert.ok(numbers[i]! > numbers[i - 1]!);
  assert.equal(records.filter((r) => String(r.msg).startsWith('log lines dropped')).length, 1, out.slice(-500));
});
