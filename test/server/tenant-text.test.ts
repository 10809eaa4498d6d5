// Tenant-controlled exception text is cut before it is source-mapped and logged
// (server/tenants/tenant-text.ts), and source mapping never blocks the event loop and gives up
// past its budget (server/observe/tenant-logs/source-maps.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boundMessage, boundStack } from '../../server/tenants/tenant-text';
import { SourceMapper, type SourceMapStore } from '../../server/observe/tenant-logs/source-maps';
import type { DeploymentManifest } from '../../server/store/types';

const frame = '    at f (file:///index.js:2:10)';

test('a stack bomb is cut to its first frames and bytes, with a note of what was cut', () => {
  const bomb = Buffer.from(`Error\n${`${frame}\n`.repeat(4e5)}`).toString('latin1');
  const cut = boundStack(bomb, { maxBytes: 16384, maxFrames: 64 });
  const lines = cut.split('\n');
  assert.equal(lines[0], 'Error');
  assert.equal(lines.filter((l) => l === frame).length, 64);
  assert.match(lines.at(-1)!, /^ {4}\.\.\. \[\d+ more characters of stack cut: frames after the first 64\]$/);
  assert.ok(Buffer.byteLength(cut) < 16384);
  // bytes bound the message part too, and a stack with no newline at all
  const wide = boundStack(`${'é'.repeat(1e6)}\n${frame}`, { maxBytes: 1000, maxFrames: 64 });
  assert.ok(Buffer.byteLength(wide) <= 1100, `${Buffer.byteLength(wide)} bytes`);
  assert.match(wide, /past 1000 bytes\]$/);
  assert.ok(Buffer.byteLength(boundStack('y'.repeat(3e6), { maxBytes: 2048, maxFrames: 8 })) < 2200);
});

test('a short stack and a short message are kept exactly', () => {
  const stack = `Error: x\n${frame}\n    at g (file:///b.js:3:4)`;
  assert.equal(boundStack(stack), stack);
  assert.equal(boundMessage('Error: small'), 'Error: small');
  assert.equal(boundMessage('é'.repeat(5000), 16384), 'é'.repeat(5000));
});

test('a huge message is cut in UTF-8 bytes, never inside a surrogate pair', () => {
  const cut = boundMessage('😀'.repeat(1e5), 1001);
  const kept = cut.slice(0, cut.indexOf('...'));
  assert.ok(Buffer.byteLength(kept) <= 1001);
  assert.equal(kept, '😀'.repeat(kept.length / 2), 'whole emoji only');
  assert.match(cut, /\.\.\. \[\d+ more characters cut\]$/);
  assert.ok(Buffer.byteLength(boundMessage('m'.repeat(8e6), 16384)) < 16500);
});

/** a source map of `segments` mappings on one line: real, valid, and slow to parse when large */
function bigMap(segments: number): string {
  const mappings = `AAAA${',CAAC'.repeat(segments - 1)}`;
  return JSON.stringify({ version: 3, sources: ['src/big.ts'], names: [], mappings });
}

function storeWith(map: string): SourceMapStore {
  const manifest = {
    id: 'd1',
    tenant: 't',
    entry: 'index.js',
    modules: [{ path: 'index.js', size: 1, sha256: '0', sourceMap: 'index.js.map' }],
  } as unknown as DeploymentManifest;
  return {
    getDeployment: async () => manifest,
    readFile: async () => Buffer.from(map),
  };
}

test('source maps are parsed off the event loop, and a stack waits at most its budget', async () => {
  const mapper = new SourceMapper(storeWith(bigMap(4_000_000)), { budgetMs: 400 });
  try {
    let longest = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 5);
    const started = performance.now();
    const stack = `Error\n    at f (file:///index.js:1:40000)`;
    const mapped = await mapper.mapStack('t', 'd1', stack);
    const took = performance.now() - started;
    clearInterval(ticker);
    assert.equal(mapped, stack, 'past its budget the stack is logged as it was');
    assert.ok(took < 1500, `the stack waited ${took.toFixed(0)} ms`);
    assert.ok(longest < 500, `the event loop was never held for long (${longest.toFixed(0)} ms)`);
    // that map is not tried again: the next stack returns without waiting for it
    const again = performance.now();
    assert.equal(await mapper.mapStack('t', 'd1', stack), stack);
    assert.ok(performance.now() - again < 300, `${(performance.now() - again).toFixed(0)} ms`);
  } finally {
    mapper.close();
  }
});

test('a small map maps, and frames past maxFrames are left as they were', async () => {
  const mapper = new SourceMapper(storeWith(bigMap(100)), { maxFrames: 2 });
  try {
    const stack = [
      'Error',
      '    at a (file:///index.js:1:1)',
      '    at b (file:///index.js:1:5)',
      '    at c (file:///index.js:1:9)',
    ];
    const mapped = (await mapper.mapStack('t', 'd1', stack.join('\n'))).split('\n');
    assert.equal(mapped[1], '    at a (src/big.ts:1:1)');
    assert.match(mapped[2]!, /^ {4}at b \(src\/big\.ts:\d+:\d+\)$/);
    assert.equal(mapped[3], stack[3]);
  } finally {
    mapper.close();
  }
});
