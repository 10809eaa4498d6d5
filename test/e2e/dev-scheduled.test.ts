// `islet dev --test-scheduled`: a Workers project with a scheduled handler, served by islet dev,
// runs that handler on a request to /__scheduled?cron=... (as wrangler dev --test-scheduled), and
// answers every other path with its fetch handler.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { type DevServer, startDev } from '../../server/cli/dev';

let dir: string;
let dev: DevServer;
const printed: string[] = [];

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-dev-scheduled-'));
  fs.writeFileSync(
    path.join(dir, 'wrangler.toml'),
    'name = "ticker"\nmain = "worker.js"\n[triggers]\ncrons = ["0 * * * *"]\n[[kv_namespaces]]\nbinding = "STATE"\n',
  );
  fs.writeFileSync(
    path.join(dir, 'worker.js'),
    `export default {
  async scheduled(controller, env) {
    console.log('tick ' + controller.cron);
    await env.STATE.put('last', controller.cron);
  },
  async fetch(request, env) { return new Response('last: ' + (await env.STATE.get('last'))); },
};
`,
  );
  dev = await startDev({ dir, port: 0, watch: false, testScheduled: true, print: (line) => printed.push(line) });
});

after(async () => {
  await dev?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('/__scheduled?cron=... runs the scheduled handler; other paths reach fetch', async () => {
  const get = async (p: string) => {
    const res = await request(new URL(p, dev.url));
    return { status: res.statusCode, text: await res.body.text() };
  };
  assert.equal((await get('/')).text, 'last: null');
  const ran = await get(`/__scheduled?cron=${encodeURIComponent('*/5 * * * *')}`);
  assert.equal(ran.status, 200);
  assert.equal(ran.text, 'Ran scheduled event\n');
  assert.equal((await get('/')).text, 'last: */5 * * * *');
  assert.ok(
    printed.some((line) => line.includes('tick */5 * * * *')),
    printed.join('\n'),
  );
});
