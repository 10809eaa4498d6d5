import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEvaluator } from './helpers';

const e = makeEvaluator();
after(() => e.close());

test('ReadableStream respects highWaterMark: pull is called only while desiredSize > 0 (backpressure)', async () => {
  const value = await e.run(
    `
    let pulls = 0;
    const rs = new ReadableStream({ pull(c) { pulls++; c.enqueue(pulls); } }, new CountQueuingStrategy({ ` +
      `highWaterMark: 3 }));
    await new Promise((r) => setTimeout(r, 5));
    const before = pulls;
    const reader = rs.getReader();
    const first = await reader.read();
    await new Promise((r) => setTimeout(r, 5));
    return [before, first.value, pulls];`,
  );
  assert.deepEqual(value, [3, 1, 4]);
});

test('cancel reaches the source with its reason and the reader sees done', async () => {
  const value = await e.run(`
    let reason = null;
    const rs = new ReadableStream({ start(c) { c.enqueue('a'); }, cancel(r) { reason = r; } });
    const reader = rs.getReader();
    await reader.read();
    await reader.cancel('stop');
    const after = await reader.read();
    return [reason, after.done];`);
  assert.deepEqual(value, ['stop', true]);
});

test('WritableStream writer waits on ready; ByteLengthQueuingStrategy counts bytes', async () => {
  const value = await e.run(
    `
    const written = [];
    let release;
    const ws = new WritableStream({ write(chunk) { written.push(chunk.length); return new Promise((r) => ` +
      `(release = r)); } }, new ByteLengthQueuingStrategy({ highWaterMark: 4 }));
    const writer = ws.getWriter();
    writer.write(new Uint8Array(3));
    const desiredAfterOne = writer.desiredSize;
    writer.write(new Uint8Array(3));
    const desiredAfterTwo = writer.desiredSize;
    await Promise.resolve(); release();
    await new Promise((r) => setTimeout(r, 1)); release();
    await writer.close();
    return [desiredAfterOne, desiredAfterTwo, written];`,
  );
  assert.deepEqual(value, [1, -2, [3, 3]]);
});

test('TransformStream, pipeThrough, tee and async iteration work together', async () => {
  const value = await e.run(
    `
    const upper = new TransformStream({ transform(chunk, c) { c.enqueue(chunk.toUpperCase()); } });
    const source = new ReadableStream({ start(c) { c.enqueue('a'); c.enqueue('b'); c.close(); } });
    const [x, y] = source.pipeThrough(upper).tee();
    const out = [];
    for await (const chunk of x) out.push(chunk);
    const reader = y.getReader();
    return [out, (await reader.read()).value, typeof ReadableStreamDefaultReader, typeof ` +
      `WritableStreamDefaultWriter, typeof TransformStreamDefaultController, typeof ReadableByteStreamController];`,
  );
  assert.deepEqual(value, [['A', 'B'], 'A', 'function', 'function', 'function', 'function']);
});

test('a streamed request body is read chunk by chunk from the host', async () => {
  const value = await e.run(
    `
    const body = new Response(new ReadableStream({ start(c) { c.enqueue(new Uint8Array([1])); c.enqueue(new ` +
      `Uint8Array([2, 3])); c.close(); } })).body;
    const reader = body.getReader({ mode: undefined });
    const chunks = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push([...r.value]);
    return chunks;`,
  );
  assert.deepEqual(value, [[1], [2, 3]]);
});
