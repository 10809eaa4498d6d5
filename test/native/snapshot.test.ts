// Startup snapshots (issue 21's cold-start lever, issue 14 item 9): Isolate.createSnapshot and
// new Isolate({ snapshot }), including the round trip through a file and the refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ivm, isletOnly } from './support';

const root = path.resolve(__dirname, '..', '..', '..');

function contextFrom(snapshot: ivm.IsolateOptions['snapshot']): { isolate: ivm.Isolate; context: ivm.Context } {
  const isolate = new ivm.Isolate({ memoryLimit: 32, snapshot });
  return { isolate, context: isolate.createContextSync() };
}

test('createContext() in an isolate made from a snapshot holds what the scripts defined', async () => {
  const snapshot = ivm.Isolate.createSnapshot([
    { code: 'var counter = 40; function bump() { return ++counter; }', filename: 'file:///one.js' },
    { code: 'globalThis.config = { name: "edge", list: [1, 2, 3], nested: { x: "y" } };', filename: 'file:///two.js' },
  ]);
  assert.ok(snapshot instanceof ivm.ExternalCopy);
  const { isolate, context } = contextFrom(snapshot);
  try {
    assert.equal(context.evalSync('bump() + bump()'), 41 + 42);
    assert.equal(context.evalSync('JSON.stringify(config)'), '{"name":"edge","list":[1,2,3],"nested":{"x":"y"}}');
    const second = await isolate.createContext();
    assert.equal(await second.eval('counter'), 40, 'each context starts from the snapshot, not from the other context');
  } finally {
    isolate.dispose();
  }
});

test('every one-character string and name reads back as itself (V8 11.3 read-only object cache)', isletOnly, () => {
  const snapshot = ivm.Isolate.createSnapshot([
    {
      code: `
        globalThis.chars = Array.from({ length: 256 }, (_, code) => String.fromCharCode(code));
        globalThis.byName = {}; for (const c of 'abcxyzQ_$') byName[c] = c.charCodeAt(0);
        var x = 'x-value';
        const outer = (function () { const c = 'captured'; return function () { return c; }; })();
        globalThis.lazy = outer;`,
    },
  ]);
  const { isolate, context } = contextFrom(snapshot);
  try {
    assert.equal(context.evalSync('chars.every((c, code) => c.length === 1 && c.charCodeAt(0) === code)'), true);
    assert.equal(
      context.evalSync('JSON.stringify(byName)'),
      '{"a":97,"b":98,"c":99,"x":120,"y":121,"z":122,"Q":81,"_":95,"$":36}',
    );
    assert.equal(context.evalSync('x'), 'x-value');
    assert.equal(
      context.evalSync('lazy()'),
      'captured',
      'a function compiled after loading finds its one-letter closure variable',
    );
  } finally {
    isolate.dispose();
  }
});

test('a bundled library (web-streams-polyfill, minified names) works from a snapshot', isletOnly, async () => {
  const bundle = fs.readFileSync(require.resolve('web-streams-polyfill/dist/ponyfill.js'), 'utf8');
  const wrapper = 'var module = { exports: {} }, exports = module.exports;';
  const code = `${wrapper}\n${bundle}\nglobalThis.Streams = module.exports;`;
  const { isolate, context } = contextFrom(ivm.Isolate.createSnapshot([{ code, filename: 'file:///streams.js' }]));
  try {
    const text = await context.eval(
      `(async () => {
        const stream = new Streams.ReadableStream({ start(c) { c.enqueue('a'); c.enqueue('b'); c.close(); } })
          .pipeThrough(new Streams.TransformStream({ transform(chunk, c) { c.enqueue(chunk.toUpperCase()); } }));
        const out = [];
        for (const reader = stream.getReader(); ;) {
          const { done, value } = await reader.read();
          if (done) break;
          out.push(value);
        }
        return out.join('');
      })()`,
      { promise: true },
    );
    assert.equal(text, 'AB');
  } finally {
    isolate.dispose();
  }
});

test('the snapshot bytes survive a file: made at build time, loaded at start in another process', isletOnly, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-snapshot-'));
  try {
    const file = path.join(dir, 'bootstrap.snapshot');
    const snapshot = ivm.Isolate.createSnapshot([{ code: 'globalThis.greet = (n) => "hello " + n;' }]);
    fs.writeFileSync(file, Buffer.from(snapshot.copy()));
    const loader = `
      const ivm = require(${JSON.stringify(path.join(root, 'dist', 'native', 'index.js'))});
      const isolate = new ivm.Isolate({ snapshot: require('fs').readFileSync(${JSON.stringify(file)}) });
      process.stdout.write(isolate.createContextSync().evalSync('greet("file")'));`;
    const child = spawnSync(process.execPath, ['--no-node-snapshot', '-e', loader], {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout, 'hello file');
    // The same bytes wrapped in an ExternalCopy of a Uint8Array, as they come out of a file.
    const { isolate, context } = contextFrom(new ivm.ExternalCopy(fs.readFileSync(file)) as never);
    assert.equal(context.evalSync('greet("copy")'), 'hello copy');
    isolate.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('damaged bytes, other V8 versions, other flags and foreign bytes are refused with clear errors', isletOnly, () => {
  const bytes = Buffer.from(ivm.Isolate.createSnapshot([{ code: 'globalThis.a = 1' }]).copy());
  const refused = (input: Uint8Array, pattern: RegExp, code: string) =>
    assert.throws(
      () => new ivm.Isolate({ snapshot: input }),
      (error: Error & { code?: string }) => pattern.test(error.message) && error.code === code,
    );
  const damaged = Buffer.from(bytes);
  damaged[damaged.length - 100] ^= 0xff;
  refused(damaged, /damaged \(checksum mismatch\)/, 'ERR_ISOLATE_SNAPSHOT');
  refused(bytes.subarray(0, bytes.length - 1), /truncated/, 'ERR_ISOLATE_SNAPSHOT');
  refused(
    Buffer.from('definitely not a snapshot, just some text that is long enough to have a header'),
    /not a snapshot made by islet/,
    'ERR_ISOLATE_SNAPSHOT',
  );
  const older = Buffer.from(bytes);
  older.fill(0, 16, 64);
  older.write('10.2.154.26-node.26', 16, 'latin1');
  refused(older, /made by V8 10\.2\.154\.26-node\.26 .* this process runs V8 /, 'ERR_ISOLATE_SNAPSHOT_VERSION');
  const otherFlags = Buffer.from(bytes);
  otherFlags.writeBigUInt64LE(otherFlags.readBigUInt64LE(72) ^ 1n, 72);
  refused(otherFlags, /--no-node-snapshot/, 'ERR_ISOLATE_SNAPSHOT_VERSION');
  assert.throws(
    () => new ivm.Isolate({ snapshot: 'bytes' as never }),
    /`snapshot` must be the ExternalCopy returned by Isolate\.createSnapshot\(\)/,
  );
});

test('a throwing script fails createSnapshot with its error class and position', isletOnly, () => {
  assert.throws(
    () => ivm.Isolate.createSnapshot([{ code: 'ok = 1;\nnull.boom', filename: 'file:///boot.js' }]),
    (error: Error) =>
      error instanceof TypeError && /null/.test(error.message) && /file:\/\/\/boot\.js:2/.test(String(error.stack)),
  );
  assert.throws(
    () =>
      ivm.Isolate.createSnapshot([{ code: 'let let = 1', filename: 'file:///syntax.js' }], undefined, {
        inProcess: true,
      }),
    (error: Error) => error instanceof SyntaxError && /file:\/\/\/syntax\.js:1/.test(String(error.stack)),
  );
  // A script that does not compile names its place in the message, as compileScriptSync does.
  assert.throws(
    () => ivm.Isolate.createSnapshot([{ code: '**', filename: 'file:///broken.js' }]),
    (error: Error) => error instanceof SyntaxError && /\[file:\/\/\/broken\.js:1:1\]/.test(error.message),
  );
  assert.throws(
    () => ivm.Isolate.createSnapshot([{ code: '1' }], '**'),
    (error: Error) => error instanceof SyntaxError && error.message.includes('[<isolated-vm>:1:1]'),
    'a warm-up script given as a string has the default file name of a script',
  );
  assert.throws(() => ivm.Isolate.createSnapshot('code' as never), /`scripts` must be an array/);
  assert.throws(() => ivm.Isolate.createSnapshot([{ code: 1 } as never]), /scripts\[0\]\.code must be a string/);
});

test(
  'what V8 cannot serialise, or never finishes, fails with an error instead of taking the process down',
  isletOnly,
  () => {
    assert.throws(
      () => ivm.Isolate.createSnapshot([{ code: 'globalThis.format = new Intl.NumberFormat("en")' }]),
      (error: Error & { code?: string }) =>
        error.code === 'ERR_ISOLATE_SNAPSHOT' && /could not make the snapshot/.test(error.message),
    );
    assert.throws(
      () => ivm.Isolate.createSnapshot([{ code: 'for (;;) {}' }], undefined, { timeout: 500 }),
      (error: Error & { code?: string }) =>
        error.code === 'ERR_ISOLATE_SNAPSHOT' && /longer than 500 ms/.test(error.message),
    );
  },
);

test('a warm-up script runs in a throwaway context: its side effects are not in the snapshot', isletOnly, () => {
  const snapshot = ivm.Isolate.createSnapshot(
    [{ code: 'var calls = 0; function work(n) { calls++; return n * 2; }' }],
    'for (let i = 0; i < 1000; i++) work(i);',
  );
  const { isolate, context } = contextFrom(snapshot);
  try {
    assert.equal(context.evalSync('calls'), 0);
    assert.equal(context.evalSync('work(21) + calls'), 43);
  } finally {
    isolate.dispose();
  }
});

test('an isolate from a snapshot keeps its limits: memory limit and timeouts still apply', isletOnly, () => {
  const { isolate, context } = contextFrom(ivm.Isolate.createSnapshot([{ code: 'function spin() { for (;;) {} }' }]));
  try {
    assert.throws(() => context.evalSync('spin()', { timeout: 50 }), /Script execution timed out/);
    assert.equal(context.evalSync('typeof spin'), 'function', 'usable after the timeout');
  } finally {
    isolate.dispose();
  }
});
