// HTMLRewriter: Workers' streaming HTML rewriter (lol-html in WebAssembly) inside the isolate, given
// only to deployments whose code names it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchText, request, makeEvaluator } from './helpers';
import { deploySandbox } from './deploy-helpers';

const page = `<!doctype html><html><head><title>Shop</title></head><body>
<!-- nav --><a href="http://old.example/a">A</a> <a href="/b">B</a><p class="note">hello <b>world</b></p>
<img src="http://old.example/i.png"></body></html>`;

test('an HTMLRewriter link rewriter rewrites attributes, text and comments as it streams', async () => {
  const t = await deploySandbox({
    'index.js': `
      const page = ${JSON.stringify(page)};
      class LinkRewriter {
        element(element) {
          const attribute = element.tagName === 'img' ? 'src' : 'href';
          const value = element.getAttribute(attribute);
          if (value) element.setAttribute(attribute, value.replace('http://old.example', 'https://new.example'));
        }
      }
      export default {
        async fetch() {
          const upstream = new Response(new ReadableStream({
            start(controller) {
              const bytes = new TextEncoder().encode(page);
              for (let i = 0; i < bytes.length; i += 17) controller.enqueue(bytes.slice(i, i + 17));
              controller.close();
            },
          }), { headers: { 'content-type': 'text/html', 'content-length': '999' } });
          return new HTMLRewriter()
            .on('a[href], img[src]', new LinkRewriter())
            .on('p.note', {
              async element(element) {
                await new Promise((resolve) => setTimeout(resolve, 1));
                element.setAttribute('data-checked', 'yes');
                element.prepend('<em>note:</em> ', { html: true });
              },
            })
            .on('title', { text(text) { if (text.text) text.replace(text.text.toUpperCase()); } })
            .onDocument({
              comments(comment) { comment.remove(); },
              end(end) { end.append('<!-- rewritten by islet -->', { html: true }); },
            })
            .transform(upstream);
        },
      };`,
  });
  try {
    const r = await fetchText(t, request('http://x.test/'));
    assert.equal(r.status, 200);
    assert.ok(!r.headers.includes('content-length'), 'the rewritten body has no stale Content-Length');
    assert.match(r.text, /<a href="https:\/\/new\.example\/a">A<\/a> <a href="\/b">B<\/a>/);
    assert.match(r.text, /<img src="https:\/\/new\.example\/i\.png">/);
    assert.match(r.text, /<p class="note" data-checked="yes"><em>note:<\/em> hello <b>world<\/b><\/p>/);
    assert.match(r.text, /<title>SHOP<\/title>/);
    assert.ok(!r.text.includes('<!-- nav -->'));
    assert.ok(r.text.endsWith('<!-- rewritten by islet -->'));
  } finally {
    t.close();
  }
});

test('only a deployment whose code names HTMLRewriter gets it', async () => {
  const t = await deploySandbox({
    'index.js': `const name = ['HTML', 'Rewriter'].join('');
      export default { fetch() { return new Response(typeof globalThis[name]); } };`,
  });
  try {
    assert.equal((await fetchText(t, request('http://x.test/'))).text, 'undefined');
  } finally {
    t.close();
  }
});

test('code run by an evaluator sandbox (its module names HTMLRewriter) can rewrite', async () => {
  const e = makeEvaluator();
  try {
    const out = await e.run(`
      const page = new Response('<p>hi</p>', { headers: { 'content-type': 'text/html' } });
      const rewritten = new HTMLRewriter().on('p', { element(p) { p.setAttribute('class', 'x'); } }).transform(page);
      return rewritten.text();`);
    assert.equal(out, '<p class="x">hi</p>');
  } finally {
    e.close();
  }
});
