import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEvaluator, runThrows } from './helpers';

const e = makeEvaluator();
after(() => e.close());

test('Response status must be 200..599 (RangeError) and statusText a reason phrase (TypeError)', async () => {
  assert.equal((await runThrows(e, `new Response('x', { status: 199 })`)).name, 'RangeError');
  assert.equal((await runThrows(e, `new Response('x', { status: 600 })`)).name, 'RangeError');
  assert.equal((await runThrows(e, `new Response('x', { statusText: 'bad\\n' })`)).name, 'TypeError');
  const value = await e.run(`const r = new Response(null, { status: 404, statusText: 'Nope' }); return [r.status, r.statusText, r.ok, r.type];`);
  assert.deepEqual(value, [404, 'Nope', false, 'default']);
});

test('null-body statuses refuse a body', async () => {
  for (const status of [204, 205, 304]) {
    assert.equal((await runThrows(e, `new Response('x', { status: ${status} })`)).name, 'TypeError');
  }
  assert.equal(await e.run(`return new Response(null, { status: 204 }).status`), 204);
});

test('Response.redirect validates the status and sets an absolute Location', async () => {
  const value = await e.run(`const r = Response.redirect('https://a.test/x?y', 301); return [r.status, r.headers.get('location')];`);
  assert.deepEqual(value, [301, 'https://a.test/x?y']);
  assert.equal((await runThrows(e, `Response.redirect('https://a.test/', 200)`)).name, 'RangeError');
  assert.equal((await runThrows(e, `Response.redirect('/relative')`)).name, 'TypeError');
  assert.equal(await e.run(`return Response.redirect('https://a.test/').status`), 302);
});

test('Response.json serialises and sets content-type unless given', async () => {
  const value = await e.run(`
    const a = Response.json({ a: [1, 'x'] }, { status: 201 });
    const b = Response.json(1, { headers: { 'content-type': 'application/vnd+json' } });
    return [a.status, a.headers.get('content-type'), await a.text(), b.headers.get('content-type')];`);
  assert.deepEqual(value, [201, 'application/json', '{"a":[1,"x"]}', 'application/vnd+json']);
  assert.equal((await runThrows(e, `Response.json(undefined)`)).name, 'TypeError');
});

test('Response.error() has type error and status 0', async () => {
  assert.deepEqual(await e.run(`const r = Response.error(); return [r.type, r.status, r.ok];`), ['error', 0, false]);
});

test('a body can be read once: bodyUsed flips and a second read rejects with TypeError', async () => {
  const value = await e.run(`
    const r = new Response('hello');
    const before = r.bodyUsed; const text = await r.text(); const after = r.bodyUsed;
    let second; try { await r.text(); } catch (err) { second = err.name; }
    return { before, text, after, second };`);
  assert.deepEqual(value, { before: false, text: 'hello', after: true, second: 'TypeError' });
});

test('clone() gives two independent readers; cloning a used body throws', async () => {
  const value = await e.run(`
    const r = new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('ab')); c.close(); } }));
    const c = r.clone();
    return [await r.text(), await c.text()];`);
  assert.deepEqual(value, ['ab', 'ab']);
  assert.equal((await runThrows(e, `const r = new Response('x'); await r.text(); r.clone();`)).name, 'TypeError');
});

test('body types: content-type is derived from the body init', async () => {
  const value = await e.run(`
    const fd = new FormData(); fd.append('a', '1');
    return [
      new Response('s').headers.get('content-type'),
      new Response(new URLSearchParams('a=1')).headers.get('content-type'),
      new Response(new Blob(['x'], { type: 'image/png' })).headers.get('content-type'),
      new Response(new Uint8Array([1])).headers.get('content-type'),
      new Response(fd).headers.get('content-type').startsWith('multipart/form-data; boundary='),
    ];`);
  assert.deepEqual(value, ['text/plain;charset=UTF-8', 'application/x-www-form-urlencoded;charset=UTF-8', 'image/png', null, true]);
});

test('arrayBuffer, bytes, blob, json and formData read bodies', async () => {
  const value = await e.run(`
    const ab = await new Response('abc').arrayBuffer();
    const bytes = await new Response(new Uint8Array([1, 2])).bytes();
    const blob = await new Response('xyz', { headers: { 'content-type': 'text/x' } }).blob();
    const json = await new Response('{"a":1}').json();
    const fd = await new Response('a=1&b=%20x+y', { headers: { 'content-type': 'application/x-www-form-urlencoded' } }).formData();
    const mp = new FormData(); mp.append('f', new Blob(['file!'], { type: 'text/plain' }), 'n.txt'); mp.append('s', 'v');
    const parsed = await new Response(mp).formData();
    const file = parsed.get('f');
    let wrongType = null; try { await new Response('a=1').formData(); } catch (err) { wrongType = err.name; }
    return [wrongType, ab.byteLength, [...bytes], blob.size, blob.type, json, [...fd], file.name, await file.text(), file.type, parsed.get('s')];`);
  assert.deepEqual(value, ['TypeError', 3, [1, 2], 3, 'text/x', { a: 1 }, [['a', '1'], ['b', ' x y']], 'n.txt', 'file!', 'text/plain', 'v']);
});

test('Request: method normalisation, forbidden methods, GET with body, relative URL', async () => {
  const value = await e.run(`return [new Request('https://a.test/', { method: 'post' }).method, new Request('https://a.test/', { method: 'patch' }).method, new Request('https://a.test/', { method: 'Custom' }).method];`);
  assert.deepEqual(value, ['POST', 'PATCH', 'Custom']);
  assert.equal((await runThrows(e, `new Request('https://a.test/', { method: 'CONNECT' })`)).name, 'TypeError');
  assert.equal((await runThrows(e, `new Request('https://a.test/', { body: 'x' })`)).name, 'TypeError');
  assert.equal((await runThrows(e, `new Request('/relative')`)).name, 'TypeError');
  assert.equal((await runThrows(e, `new Request('https://u:p@a.test/')`)).name, 'TypeError');
});

test('new Request(request) takes the body over and marks the original used', async () => {
  const value = await e.run(`
    const a = new Request('https://a.test/', { method: 'POST', body: 'data', headers: { 'x-a': '1' } });
    const b = new Request(a, { headers: { 'x-b': '2' } });
    return [a.bodyUsed, await b.text(), b.headers.get('x-a'), b.headers.get('x-b'), b.method, b.url];`);
  assert.deepEqual(value, [true, 'data', null, '2', 'POST', 'https://a.test/']);
});

test('the incoming request exposes method, url, headers and a readable body', async () => {
  const value = await e.run(`
    let cloneError = null; try { request.clone(); } catch (err) { cloneError = err.name; }
    return [request.method, request.url, request.headers.get('content-type'), request.bodyUsed, cloneError];`);
  // the evaluator already read the body (it is the code being run), so the request cannot be cloned
  assert.deepEqual(value, ['POST', 'http://eval.test/', null, true, 'TypeError']);
});

test('Request and Response read their bodies alike, each with its own methods that refuse the other class', async () => {
  const value = await e.run(`
    const members = ['body', 'bodyUsed', 'arrayBuffer', 'bytes', 'text', 'json', 'blob', 'formData'];
    const shape = (proto) => members.map((m) => {
      const d = Object.getOwnPropertyDescriptor(proto, m);
      return [m, typeof (d.get ?? d.value), d.enumerable, d.configurable, (d.get ?? d.value).name];
    });
    const req = new Request('https://a.test/', { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
    const res = new Response('x=1&y=2', { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    let refused = null;
    try { await Response.prototype.text.call(new Request('https://a.test/', { method: 'POST', body: 'hi' })); } catch (err) { refused = err.constructor.name; }
    const form = await res.formData();
    return {
      same: JSON.stringify(shape(Request.prototype)) === JSON.stringify(shape(Response.prototype)),
      shape: shape(Request.prototype),
      separate: Request.prototype.text !== Response.prototype.text,
      refused,
      json: await req.json(),
      used: [req.bodyUsed, res.bodyUsed],
      form: [...form],
      blobType: (await new Request('https://a.test/', { method: 'PUT', body: 'b', headers: { 'content-type': 'text/x' } }).blob()).type,
    };`);
  assert.equal(value.same, true);
  assert.deepEqual(value.shape, [
    ['body', 'function', false, true, 'get body'],
    ['bodyUsed', 'function', false, true, 'get bodyUsed'],
    ['arrayBuffer', 'function', false, true, 'arrayBuffer'],
    ['bytes', 'function', false, true, 'bytes'],
    ['text', 'function', false, true, 'text'],
    ['json', 'function', false, true, 'json'],
    ['blob', 'function', false, true, 'blob'],
    ['formData', 'function', false, true, 'formData'],
  ]);
  assert.equal(value.separate, true);
  assert.equal(value.refused, 'TypeError');
  assert.deepEqual(value.json, { a: 1 });
  assert.deepEqual(value.used, [true, true]);
  assert.deepEqual(value.form, [['x', '1'], ['y', '2']]);
  assert.equal(value.blobType, 'text/x');
});

test('a null body is never "used": reading it gives empty results every time and bodyUsed stays false', async () => {
  const value = await e.run(`
    const res = new Response(null);
    const req = new Request('https://a.test/', { method: 'POST' });
    const texts = [await res.text(), await res.text(), await req.text(), (await req.arrayBuffer()).byteLength];
    const blob = await new Response().blob();
    return [texts, res.bodyUsed, req.bodyUsed, res.body, blob.size, new Response(null).clone().bodyUsed];`);
  assert.deepEqual(value, [['', '', '', 0], false, false, null, 0, false]);
});

test('a body consumed before its stream was asked for exposes a locked, disturbed stream', async () => {
  const value = await e.run(`
    const out = [];
    const makers = [() => new Response('text'), () => new Request('https://a.test/', { method: 'POST', body: 'x' })];
    for (const make of makers) {
      const r = make();
      const pending = r.text();
      const body = r.body;
      let getReader; try { body.getReader(); getReader = 'got a reader'; } catch (err) { getReader = err.name; }
      out.push([body !== null, body.locked, r.bodyUsed, getReader, await pending]);
    }
    return out;`);
  assert.deepEqual(value, [
    [true, true, true, 'TypeError', 'text'],
    [true, true, true, 'TypeError', 'x'],
  ]);
});
