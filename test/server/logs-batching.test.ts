// The production log sink batches the lines of one event-loop turn into one write. What users
// rely on: every line still arrives, whole and in order; nothing waits past the turn; a line at
// error level is out before the call that wrote it returns (the process may abort right after);
// and lines still buffered when the process exits are written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Logger, batchedSink } from '../../server/observe/server-log';

const root = path.resolve(__dirname, '../../..');

function recorder() {
  const writes: string[] = [];
  return { writes, sink: batchedSink((chunk) => void writes.push(String(chunk))) };
}

test('lines of one turn go out as one write, in order, once the turn ends', async () => {
  const { writes, sink } = recorder();
  const logger = new Logger('info', sink);
  logger.info('one', { n: 1 });
  logger.warn('two', { n: 2 });
  logger.info('three', { n: 3 });
  assert.equal(writes.length, 0, 'written before the turn ended');
  await nextTurn();
  assert.equal(writes.length, 1);
  const lines = writes[0].split('\n');
  assert.equal(lines.pop(), '', 'the chunk ends with a newline');
  assert.deepEqual(
    lines.map((l) => JSON.parse(l).msg),
    ['one', 'two', 'three'],
  );
  logger.info('four');
  await nextTurn();
  assert.equal(writes.length, 2);
  assert.equal(JSON.parse(writes[1]).msg, 'four');
});

test('an error line is written before the call returns, with the lines before it', () => {
  const { writes, sink } = recorder();
  const logger = new Logger('info', sink);
  logger.info('context');
  logger.error('isolate lost control', { tenant: 'shop' });
  assert.equal(writes.length, 1);
  assert.deepEqual(
    writes[0]
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l).msg),
    ['context', 'isolate lost control'],
  );
});

test('a batch past its size bound is written at once', () => {
  const writes: string[] = [];
  const logger = new Logger(
    'info',
    batchedSink((chunk) => void writes.push(String(chunk)), { maxChars: 200 }),
  );
  for (let i = 0; i < 10; i++) logger.info('x'.repeat(50), { i });
  assert.ok(writes.length >= 3, `expected writes while the turn was still running, got ${writes.length}`);
  for (const chunk of writes) assert.ok(chunk.endsWith('\n'), 'a chunk ends inside a line');
});

test('a write that fails at the end of the turn is reported, not thrown into the event loop', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    const logger = new Logger(
      'info',
      batchedSink(() => {
        throw new Error('EPIPE');
      }),
    );
    logger.info('lost');
    logger.info('lost too');
    await nextTurn();
    await nextTurn(); // 'warning' is emitted on the next tick
    assert.equal(warnings.length, 1);
    assert.match(warnings[0].message, /log lines could not be written: EPIPE/);
  } finally {
    process.off('warning', onWarning);
  }
});

test('bad batching options are refused with the option named', () => {
  assert.throws(() => batchedSink(() => {}, { maxChars: 0 }), /maxChars must be a positive integer/);
  assert.throws(() => batchedSink(() => {}, { delayMs: -1 }), /delayMs must be from 0 to 1000/);
});

/** runs a script in a fresh node process that has the compiled Logger as `Logger` */
function child(script: string) {
  const prelude =
    `const { Logger } = ` + `require(${JSON.stringify(path.join(root, 'dist/server/observe/server-log.js'))});`;
  return spawnSync(process.execPath, ['-e', prelude + script], { encoding: 'utf8', timeout: 20_000 });
}

test('stdout: lines still buffered when the process exits are written', () => {
  const run = child(`
    const logger = new Logger('info');
    for (let i = 0; i < 3; i++) logger.info('line', { i });
    process.exit(3);
  `);
  assert.equal(run.status, 3, run.stderr);
  assert.deepEqual(
    run.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l).i),
    [0, 1, 2],
  );
});

test('stdout: the error line before a hard kill is not lost', () => {
  // SIGKILL runs no exit handler, like process.abort() after a V8 catastrophic error
  const run = child(`
    const logger = new Logger('info');
    logger.info('serving');
    logger.error('isolate lost control (V8 catastrophic error)');
    process.kill(process.pid, 'SIGKILL');
  `);
  assert.equal(run.signal, 'SIGKILL');
  assert.deepEqual(
    run.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l).msg),
    ['serving', 'isolate lost control (V8 catastrophic error)'],
  );
});

test('stdout: the lines before an uncaught exception are written', () => {
  const run = child(`
    const logger = new Logger('info');
    logger.info('before the crash');
    setTimeout(() => { throw new Error('boom'); }, 1);
  `);
  assert.equal(run.status, 1);
  assert.match(run.stderr, /Error: boom/);
  assert.equal(JSON.parse(run.stdout).msg, 'before the crash');
});

test('stdout: a process that ends by itself writes its last lines and is not kept alive by them', () => {
  const run = child(`
    const logger = new Logger('info');
    logger.info('last words');
  `);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(JSON.parse(run.stdout).msg, 'last words');
});

test(
  'with a delay, lines wait for it across turns, then go out together; an error line still goes ' + 'at once',
  async () => {
    const writes: string[] = [];
    const logger = new Logger(
      'info',
      batchedSink((chunk) => void writes.push(String(chunk)), { delayMs: 30 }),
    );
    logger.info('first');
    await nextTurn();
    logger.info('second');
    await nextTurn();
    assert.equal(writes.length, 0, 'written before the delay passed');
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(writes.length, 1);
    assert.deepEqual(
      writes[0]
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l).msg),
      ['first', 'second'],
    );
    logger.info('third');
    logger.error('fatal');
    assert.equal(writes.length, 2);
    assert.deepEqual(
      writes[1]
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l).msg),
      ['third', 'fatal'],
    );
  },
);

test('pipe-safe batches are written in pieces of at most 4096 bytes that end at line ends', () => {
  const pieces: Buffer[] = [];
  const logger = new Logger(
    'info',
    batchedSink((chunk) => void pieces.push(Buffer.from(chunk)), { pipeSafe: true }),
  );
  const sent: string[] = [];
  for (let i = 0; i < 300; i++) {
    // multi-byte characters near the cuts, and one line longer than a piece
    const msg = i === 150 ? 'ü'.repeat(5000) : `line ${i} ${'é😀'.repeat(i % 40)}`;
    sent.push(msg);
    logger.info(msg);
  }
  logger.flush();
  assert.ok(pieces.length > 10, `expected many pieces, got ${pieces.length}`);
  for (const piece of pieces) {
    assert.equal(piece[piece.length - 1], 10, 'a piece ends inside a line');
    const lines = piece.toString('utf8').trimEnd().split('\n');
    assert.ok(piece.length <= 4096 || lines.length === 1, `a ${piece.length}-byte piece holds ${lines.length} lines`);
  }
  const received = Buffer.concat(pieces)
    .toString('utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l).msg);
  assert.deepEqual(received, sent);
});

test('stdout of several processes: every line that arrives is whole and in order when their batches are large', () => {
  // two processes write 40 KB batches to one pipe at the same time, as cluster workers do
  const script = `
    const { Logger } = require(${JSON.stringify(path.join(root, 'dist/server/observe/server-log.js'))});
    const logger = new Logger('info');
    const who = process.argv[1];
    let n = 0;
    const burst = () => {
      for (let i = 0; i < 400; i++) logger.info('x'.repeat(100 + (n % 37)), { who, n: n++ });
      if (n < 8000) setTimeout(burst, 1);
    };
    burst();
  `;
  const parent =
    `
    const { spawn } = require('node:child_process');
    for (const who of ['a', 'b']) spawn(process.execPath, ['-e', ${JSON.stringify(script)}, who], { stdio: ` +
    `['ignore', 'inherit', 'inherit'] });
  `;
  const run = spawnSync(process.execPath, ['-e', parent], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.trimEnd().split('\n');
  // a reader slower than the writers (a loaded machine) may cost lines: a writer never waits for
  // stdout (observers never block serving), drops are reported, and what still waits when a
  // process exits is lost (server-log-sink.ts). What arrives must be whole lines, in order.
  const last = { a: -1, b: -1 } as Record<string, number>;
  let arrived = 0;
  for (const line of lines) {
    const record = JSON.parse(line) as { who?: string; n?: number; msg?: string };
    if (record.who === undefined) {
      assert.match(String(record.msg), /^log lines dropped/, `a line of neither process: ${line.slice(0, 200)}`);
      continue;
    }
    assert.ok(record.n! > last[record.who]!, 'lines of one process out of order');
    last[record.who] = record.n!;
    arrived++;
  }
  assert.ok(last.a! >= 0 && last.b! >= 0, 'lines of both processes arrive');
  assert.ok(arrived <= 16_000);
});
