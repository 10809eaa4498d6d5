// Unhandled promise rejections (issue 18): logged to the tenant's log with their stack, and the
// global scope's unhandledrejection / rejectionhandled events as Workers has them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchText, request } from './helpers';
import { deploySandbox } from './deploy-helpers';

const errors = (logs: { level: string; message: string }[]) =>
  logs.filter((r) => r.level === 'error').map((r) => r.message);

test('a promise rejected with nobody handling it is logged with its stack; the request still answers', async () => {
  const t = await deploySandbox({
    'index.js': `function failLater() { return Promise.reject(new Error('nobody catches me')); }
      export default { async fetch() {
        failLater();
        // handled a moment later (same turn): not reported
        const late = Promise.reject(new Error('caught in time'));
        await null;
        late.catch(() => {});
        return new Response('ok');
      } };`,
  });
  try {
    const r = await fetchText(t, request('http://x.test/'));
    assert.equal(r.status, 200);
    assert.equal(r.text, 'ok');
    const logged = errors(t.logs as never);
    assert.equal(logged.length, 1, JSON.stringify(logged));
    assert.match(logged[0], /^Uncaught \(in promise\) Error: nobody catches me/);
    // the stack names the function that rejected
    assert.match(logged[0], /at failLater \(/);
  } finally {
    t.close();
  }
});

test('unhandledrejection listeners see the event and may cancel it; rejectionhandled follows a late handler', async () => {
  const t = await deploySandbox({
    'index.js': `const seen = [];
      addEventListener('unhandledrejection', (event) => {
        seen.push(['unhandled', event.reason.message, event instanceof PromiseRejectionEvent, event.cancelable]);
        if (event.reason.message === 'quiet') event.preventDefault();
      });
      addEventListener('rejectionhandled', (event) => seen.push(['handled', event.reason.message]));
      let kept;
      export default { async fetch(request) {
        const path = new URL(request.url).pathname;
        if (path === '/reject') {
          Promise.reject(new Error('quiet'));
          kept = Promise.reject(new Error('loud'));
          return new Response('rejected');
        }
        if (path === '/handle') { kept.catch(() => {}); await new Promise((r) => setTimeout(r, 1)); }
        return Response.json(seen);
      } };`,
  });
  try {
    assert.equal((await fetchText(t, request('http://x.test/reject'))).text, 'rejected');
    const first = JSON.parse((await fetchText(t, request('http://x.test/seen'))).text);
    assert.deepEqual(first, [
      ['unhandled', 'quiet', true, true],
      ['unhandled', 'loud', true, true],
    ]);
    const after = JSON.parse((await fetchText(t, request('http://x.test/handle'))).text);
    assert.deepEqual(after.at(-1), ['handled', 'loud']);
    // the cancelled one is not logged; the other is
    const logged = errors(t.logs as never);
    assert.equal(logged.length, 1, JSON.stringify(logged));
    assert.match(logged[0], /Uncaught \(in promise\) Error: loud/);
  } finally {
    t.close();
  }
});
