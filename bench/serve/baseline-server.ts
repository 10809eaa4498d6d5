// The baselines for bench/serve: the same bytes and headers as functions/hello answers for `/`,
// served by bare node:http (`node`) or through hono's node adapter (`hono`), so the ratio shows
// what islet's front server + isolate costs per request, and what the adapter alone would cost.
// Usage: node baseline-server.js <port> <node|hono>; prints "ready" once listening.
import http from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

import { HELLO, HELLO_CONTENT_TYPE as CONTENT_TYPE } from './hello-bytes';

const port = Number(process.argv[2]);
const mode = process.argv[3] ?? 'node';
if (!Number.isInteger(port) || port <= 0)
  throw new Error(`baseline-server: expected a port as argv[2], got '${process.argv[2]}'`);

if (mode === 'node') {
  http
    .createServer((_req, res) => {
      res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': HELLO.length });
      res.end(HELLO);
    })
    .listen(port, '127.0.0.1', () => console.log('ready'));
} else if (mode === 'hono') {
  const app = new Hono();
  app.all('*', (c) => c.body(HELLO, 200, { 'content-type': CONTENT_TYPE }));
  serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => console.log('ready'));
} else {
  throw new Error(`baseline-server: unknown mode '${mode}' (node or hono)`);
}
