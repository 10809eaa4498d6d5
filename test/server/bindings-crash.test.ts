// kill -9 of a serving islet in the middle of KV writes and cache puts, several times at random
// moments: every value left in kv.sqlite and every response left in cache.sqlite is whole (its
// checksum, written beside it by the function, matches), each tenant's usage row equals what it
// stores (the quota's accounting is written in the same transaction as the data), and the
// restarted server serves the values.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { repoRoot } from './serve-harness';

const TOKEN = 'crash-operator-token-0123456789';
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-bindings-crash-'));
after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

const worker = `
const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.searchParams.has('read')) {
      const entry = await env.KV.get('k' + url.searchParams.get('read'), 'json');
      const cached = await caches.default.match('https://crash.example/' + url.searchParams.get('read'));
      return Response.json({ kv: entry && entry.n, cached: cached ? cached.headers.get('x-n') : null });
    }
    const n = Number(url.searchParams.get('n'));
    const size = 1 + ((n * 7919) % 300000);
    const payload = String(n % 10).repeat(size);
    const sha = hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(payload)));
    await env.KV.put('k' + (n % 40), JSON.stringify({ n, sha, payload }), { metadata: { n, sha } });
    await caches.default.put('https://crash.example/' + (n % 40), new Response(payload, {
      headers: { 'cache-control': 'max-age=3600', 'x-sha': sha, 'x-n': String(n) },
    }));
    return new Response('ok ' + n);
  },
};`;

interface Server {
  child: ChildProcess;
  tenant: string;
  admin: string;
}

function start(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-node-snapshot', path.join(repoRoot, 'bin', 'islet.js'), 'serve'], {
      env: {
        ...process.env,
        ISLET_DATA_DIR: dataDir,
        ISLET_PORT: '0',
        ISLET_HOST: '127.0.0.1',
        ISLET_ADMIN_PORT: '0',
        ISLET_WORKERS: '0',
        ISLET_ADMIN_TOKEN: TOKEN,
        ISLET_LOG_REQUESTS: 'false',
        ISLET_CPU_LIMIT_MS: '2000',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let tenant = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      tenant ||= /tenant traffic on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1] ?? '';
      const admin = /admin API on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1];
      if (tenant && admin) resolve({ child, tenant, admin });
    });
    child.on('exit', (code) => reject(new Error(`islet exited (${code}) before listening: ${stderr}`)));
  });
}

async function admin(server: Server, method: string, p: string, body: string, type: string) {
  const res = await request(`${server.admin}${p}`, {
    method: method as 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': type },
    body,
  });
  const text = await res.body.text();
  assert.ok(res.statusCode < 300, `${method} ${p}: ${res.statusCode} ${text}`);
}

const hit = (server: Server, q: string) =>
  request(`${server.tenant}/?${q}`, { headers: { host: 'crash.localhost' } }).then(async (r) => ({
    status: r.statusCode,
    text: await r.body.text(),
  }));

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** every stored value and cached response is whole, and the usage rows equal what is stored */
function checkFiles(): { values: number; responses: number } {
  const kv = new Database(path.join(dataDir, 'kv.sqlite'));
  try {
    const rows = kv.prepare("SELECT key, value, metadata, size FROM kv WHERE tenant = 'crash'").all() as {
      key: Buffer;
      value: Buffer;
      metadata: string;
      size: number;
    }[];
    for (const row of rows) {
      const { n, sha, payload } = JSON.parse(row.value.toString());
      assert.equal(sha256(payload), sha, `KV value of ${row.key} is whole`);
      assert.deepEqual(JSON.parse(row.metadata), { n, sha }, 'its metadata is the one written with it');
    }
    const sums = kv
      .prepare("SELECT COALESCE(SUM(size), 0) AS bytes, COUNT(*) AS keys FROM kv WHERE tenant = 'crash'")
      .get();
    const usage = kv.prepare("SELECT bytes, keys FROM kv_usage WHERE tenant = 'crash'").get() ?? { bytes: 0, keys: 0 };
    assert.deepEqual(usage, sums, 'the usage row matches what is stored');
    const cache = new Database(path.join(dataDir, 'cache.sqlite'));
    try {
      const entries = cache.prepare('SELECT url, headers, body, size FROM entries').all() as {
        url: string;
        headers: string;
        body: Buffer;
      }[];
      for (const entry of entries) {
        const headers: string[] = JSON.parse(entry.headers);
        assert.equal(sha256(entry.body), headers[headers.indexOf('x-sha') + 1], `cached ${entry.url} is whole`);
      }
      const total = cache.prepare('SELECT COALESCE(SUM(size), 0) AS bytes FROM entries').get() as { bytes: number };
      const used = cache.prepare("SELECT bytes FROM usage WHERE tenant = ''").get() as { bytes: number } | undefined;
      assert.equal(used?.bytes ?? 0, total.bytes, 'the cache usage row matches what is stored');
      return { values: rows.length, responses: entries.length };
    } finally {
      cache.close();
    }
  } finally {
    kv.close();
  }
}

test('kill -9 during KV writes and cache puts, 5 times at random moments: no torn value, usage exact', async () => {
  let server = await start();
  await admin(server, 'PUT', '/v1/tenants/crash', '{}', 'application/json');
  await admin(
    server,
    'PUT',
    '/v1/tenants/crash/bindings',
    JSON.stringify({ kv_namespaces: [{ binding: 'KV', id: 'kv' }] }),
    'application/json',
  );
  await admin(server, 'POST', '/v1/tenants/crash/deployments', worker, 'application/javascript');
  let n = 0;
  let written = 0;
  for (let round = 0; round < 5; round++) {
    let stop = false;
    const load = Array.from({ length: 6 }, async () => {
      while (!stop) {
        const res = await hit(server, `n=${n++}`).catch(() => null);
        if (res?.status === 200) written++;
      }
    });
    await new Promise((r) => setTimeout(r, 400 + Math.random() * 1200));
    server.child.kill('SIGKILL');
    stop = true;
    await Promise.all(load);
    const child = server.child;
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    const stored = checkFiles();
    assert.ok(stored.values > 0 || written === 0, `round ${round}: values stored`);
    server = await start();
    const read = await hit(server, 'read=1');
    assert.equal(read.status, 200, read.text);
  }
  assert.ok(written > 10, `writes went through between the kills (${written})`);
  server.child.kill('SIGTERM');
  await new Promise((r) => server.child.once('exit', r));
  const final = checkFiles();
  assert.ok(final.values > 0 && final.responses > 0, JSON.stringify(final));
});
