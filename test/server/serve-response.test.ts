// front/response.ts on a real socket: what islet sends for a function's SandboxResponse.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { request } from 'undici';
import { writeSandboxResponse, sendPlain } from '../../server/front/response';
import { InvalidResponseError } from '../../server/errors';
import type { SandboxResponse } from '../../server/host/types';

let server: http.Server;
let base: string;
/** the response the next request gets, and what writing it did */
let next: { response: SandboxResponse; outcome?: Promise<unknown> };

before(async () => {
  server = http.createServer((req, res) => {
    const outcome = writeSandboxResponse(res, next.response, 'rid-1', req.method === 'HEAD').catch((err) => {
      if (err instanceof InvalidResponseError) sendPlain(res, 500, 'rid-1', 'invalid');
      throw err;
    });
    outcome.catch(() => {}); // inspected by the tests, which may look only after it settled
    next.outcome = outcome;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A streamed body that records how it was consumed. */
function tracked(chunks: number) {
  const state = { pulled: 0, returned: false };
  const body: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]() {
      return {
        async next() {
          if (state.pulled >= chunks) return { done: true, value: undefined };
          state.pulled++;
          return { done: false, value: new Uint8Array(64 * 1024).fill(120) };
        },
        async return() {
          state.returned = true;
          return { done: true, value: undefined };
        },
      };
    },
  };
  return { body, state };
}

test('connection headers of the function are dropped, the request id added, content-length made exact', async () => {
  next = {
    response: {
      status: 201,
      statusText: 'Made',
      headers: [
        'x-a',
        '1',
        'connection',
        'close',
        'transfer-encoding',
        'chunked',
        'content-length',
        '999',
        'islet-request-id',
        'forged',
      ],
      body: new TextEncoder().encode('hello'),
    },
  };
  const res = await request(base);
  assert.equal(res.statusCode, 201);
  assert.equal(res.headers['x-a'], '1');
  assert.equal(res.headers['islet-request-id'], 'rid-1');
  assert.equal(res.headers['content-length'], '5');
  assert.equal(res.headers.connection, 'keep-alive');
  assert.equal(await res.body.text(), 'hello');
});

test(
  'a header Node refuses is an InvalidResponseError before anything is sent, so a 500 can still ' + 'go out',
  async () => {
    const { body, state } = tracked(3);
    next = { response: { status: 200, statusText: '', headers: ['x-bad', 'a\r\nx-injected: 1'], body } };
    const res = await request(base);
    assert.equal(res.statusCode, 500);
    assert.equal(res.headers['x-injected'], undefined);
    await res.body.text();
    await assert.rejects(next.outcome!, InvalidResponseError);
    assert.equal(state.returned, true, 'the function stream is cancelled');
  },
);

test(
  "HEAD: the function's content-length is kept; for GET without a body it is dropped (no bytes " + 'would follow)',
  async () => {
    next = { response: { status: 200, statusText: '', headers: ['content-length', '1234'], body: null } };
    const head = await request(base, { method: 'HEAD' });
    assert.equal(head.headers['content-length'], '1234');
    await head.body.text();
    next = { response: { status: 200, statusText: '', headers: ['content-length', '1234'], body: null } };
    const get = await request(base);
    assert.notEqual(get.headers['content-length'], '1234');
    assert.equal(await get.body.text(), '');
  },
);

test('HEAD: a streamed body is cancelled, never pulled', async () => {
  const { body, state } = tracked(10);
  next = { response: { status: 200, statusText: '', headers: ['content-type', 'text/plain'], body } };
  const res = await request(base, { method: 'HEAD' });
  assert.equal(res.statusCode, 200);
  await res.body.text();
  await next.outcome;
  assert.equal(state.pulled, 0);
  assert.equal(state.returned, true);
});

test('a client that goes away mid-stream stops the pulling and cancels the function stream', async () => {
  const { body, state } = tracked(100_000); // 6 GB if pulled to the end
  next = { response: { status: 200, statusText: '', headers: [], body } };
  const res = await request(base);
  for await (const _ of res.body) break; // read one chunk, then hang up
  await assert.rejects(next.outcome!);
  assert.equal(state.returned, true);
  assert.ok(state.pulled < 1000, `pulled ${state.pulled} chunks after the client left`);
});
