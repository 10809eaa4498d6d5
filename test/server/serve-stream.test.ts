// Bodies stream in both directions with backpressure, and ctx.waitUntil outlives the response.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { startHarness, eventually, type Harness } from './serve-harness';

let h: Harness;

before(async () => {
  h = await startHarness((config) => {
    config.tenants.stream = { limits: { requestBodyBytes: 1 << 30, cpuMs: 20_000 } };
  });
  await h.deploy('stream', 'stream.js');
  await h.deploy('later', 'wait-until.js');
});
after(() => h.close());

test('a large upload is streamed back through the function intact', async () => {
  const chunk = Buffer.alloc(256 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31) & 0xff;
  const chunks = 512; // 128 MB
  const sent = createHash('sha256');
  async function* upload() {
    for (let i = 0; i < chunks; i++) {
      // a fresh buffer per chunk: the client may still hold the previous one when the next is made
      const part = Buffer.from(chunk);
      part[0] = i & 0xff;
      sent.update(part);
      yield part;
    }
  }
  const res = await request(h.url('/'), {
    method: 'POST',
    headers: { host: 'stream.localhost' },
    body: Readable.from(upload()),
  });
  assert.equal(res.statusCode, 200);
  const received = createHash('sha256');
  let total = 0;
  for await (const part of res.body) {
    received.update(part);
    total += part.length;
  }
  assert.equal(total, chunks * chunk.length);
  assert.equal(received.digest('hex'), sent.digest('hex'));
});

test('backpressure: a client that stops reading the echoed body stops the upload (nothing buffers it all)', async () => {
  const chunk = Buffer.alloc(256 * 1024, 7);
  let produced = 0;
  async function* endless() {
    for (;;) {
      produced += chunk.length;
      yield Buffer.from(chunk);
    }
  }
  const body = Readable.from(endless());
  const res = await request(h.url('/'), { method: 'POST', headers: { host: 'stream.localhost' }, body });
  const reader = res.body[Symbol.asyncIterator]();
  await reader.next(); // the echo has started; now the client reads nothing more
  const settled = async () => {
    let last = -1;
    while (produced !== last) {
      last = produced;
      await new Promise((r) => setTimeout(r, 300));
    }
    return last;
  };
  const stalledAt = await settled();
  // Only socket buffers and a few stream chunks sit between the two ends; without backpressure
  // the upload would run on (hundreds of MB per second) into islet's or the isolate's memory.
  assert.ok(stalledAt < 64 * 1024 * 1024, `the upload stalled only after ${(stalledAt / 1048576).toFixed(1)} MB`);
  res.body.destroy();
  body.destroy();
});

test('the function reads a streamed request body chunk by chunk', async () => {
  async function* upload() {
    for (let i = 0; i < 40; i++) yield Buffer.alloc(100_000, 1);
  }
  const res = await request(h.url('/count'), {
    method: 'POST',
    headers: { host: 'stream.localhost' },
    body: Readable.from(upload()),
  });
  assert.equal(await res.body.text(), '4000000');
});

test('a response body produced by a ReadableStream reaches the client whole', async () => {
  const res = await request(h.url('/generate?chunks=100'), { headers: { host: 'stream.localhost' } });
  let total = 0;
  for await (const part of res.body) total += part.length;
  assert.equal(total, 100 * 65536);
});

test('ctx.waitUntil work finishes after the response was sent', async () => {
  const first = await h.get('later.localhost', '/start');
  assert.equal(first.text, '0', 'the response must not wait for the waitUntil work');
  await eventually(async () => (await h.get('later.localhost', '/')).text === '1', 3000);
});
