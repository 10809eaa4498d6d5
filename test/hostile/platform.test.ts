// Hostile tenants, round two (issue 16): attacks on the work islet does for a tenant outside its
// isolate (builds, cold starts, exception text, hostnames, storage) and on what one tenant can
// learn about another. Each case runs against a real islet started in this process, deploys
// through the admin API (with a tenant's own deploy token where the attack is a tenant's), and
// measures a neighbour tenant on the same event loop before and during the attack: its p99 stays
// within twice its baseline (test/hostile/platform-latency.ts) and every neighbour request answers 200.
//
// | case                                               | the attacker gets                                  |
// |----------------------------------------------------|----------------------------------------------------|
// | 2 MB of nested ( or [ (esbuild's stack overflows)  | 422 BUILD_LIMIT_EXCEEDED; later deploys of all 201 |
// | a 3,000-module import chain (slow build)           | 422 BUILD_LIMIT_EXCEEDED at the build time limit   |
// | 40 parallel uploads from one deploy token          | most 503 BUSY; another tenant's deploys all 201    |
// | 2,500 one-line modules (deploy, cold starts)       | 201, 200; the neighbour never waits long           |
// | 9 MB uploads, again and again (storage)            | oldest versions pruned (or 413 QUOTA_EXCEEDED)     |
// | top-level code burning CPU                         | 400 DEPLOYMENT_REJECTED (startup CPU limit)        |
// | isolates dying at start, request after request    | 503 memory, then 503 backoff + Retry-After         |
// | throw { stack: 8.8 MB } / Error(8 MB message)      | 500; the log line is cut to 16 KiB / 64 frames     |
// | routes on the base domain (login.sqb.localhost...) | 403 HOSTNAME_RESERVED                              |
// | routes on a hostname the tenant does not own       | 403 HOSTNAME_NOT_VERIFIED; assigned or proved: 201 |
// | two deploys racing for one route                   | one 201, one 409 ROUTE_TAKEN                       |
// | Set-Cookie Domain=localhost / sqb.localhost        | the Domain attribute removed (host-only cookie)    |
// | counting another tenant's requests by request id   | ids are random                                     |
// | timing the neighbour with Date.now/performance.now | the clock stands still while tenant code runs      |
// | requests with a bad Host (-x.localhost)            | 400/404, no error or warn line in the server log   |
// | thousands of idle connections from one client      | past the cap closed at once, counted               |
// | fetch to NAT64 local-use, Teredo, ORCHID, ... IPv6 | every fetch() rejects; no connection attempted     |
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { request } from 'undici';
import { publish } from '../../server/deploy/publish';
import { attacker, neighbourCode, outsideAttempts, startIslet, type Islet, type Reply } from './islet';
import { twice, underAttack } from './platform-latency';

let islet: Islet;
/** an HTTP server on 127.0.0.2 that answers ownership challenges (the `http` verification) */
let challenge: http.Server;
const challengeTokens = new Map<string, string>();

/** sets a config value by its dotted path (settings added by this round included) */
function set(config: object, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = config as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
  node[parts[parts.length - 1]!] = value;
}

before(async () => {
  challenge = http.createServer((req, res) => {
    const token = /^\/\.well-known\/islet-challenge\/([^/]+)$/.exec(req.url ?? '')?.[1];
    const answer = token && challengeTokens.get(`${req.headers.host?.replace(/:\d+$/, '')} ${token}`);
    res.writeHead(answer ? 200 : 404).end(answer ?? 'no such challenge');
  });
  await new Promise<void>((resolve) => challenge.listen(0, '127.0.0.2', resolve));
  const challengePort = (challenge.address() as net.AddressInfo).port;
  islet = await startIslet((config) => {
    config.egress.allow = ['127.0.0.2'];
    config.logRequests = false;
    set(config, 'deploy.buildTimeoutMs', 30_000);
    set(config, 'deploy.maxStoredBytes', 48 * 1024 * 1024);
    set(config, 'server.maxConnectionsPerClient', 32);
    set(config, 'hostnames.verification', 'http');
    set(config, 'hostnames.httpPort', challengePort);
    set(config, 'pool.startupTimeoutMs', 5000);
    set(config, 'limits.startupCpuMs', 200);
  });
  await islet.deployReady('neighbour', neighbourCode);
});
after(async () => {
  await islet?.close();
  await new Promise((resolve) => challenge?.close(resolve));
});

const hello = (word: string) => attacker(`return new Response(${JSON.stringify(word)});`);

/** a deploy token of `tenant` (created first when missing), as request headers */
async function tokenOf(tenant: string): Promise<Record<string, string>> {
  const put = await islet.admin('PUT', `/v1/tenants/${tenant}`, {});
  assert.ok(put.status === 200 || put.status === 201, put.text);
  const created = await islet.admin('POST', `/v1/tenants/${tenant}/tokens`, {});
  assert.equal(created.status, 201, created.text);
  return { authorization: `Bearer ${JSON.parse(created.text).token}` };
}

/** an upload with a tenant's own token (or another body type: tar.gz) */
async function upload(
  tenant: string,
  body: string | Buffer,
  auth: Record<string, string>,
  query = '',
  type = 'application/javascript',
): Promise<Reply> {
  const res = await request(`http://127.0.0.1:${islet.serving.adminPort}/v1/tenants/${tenant}/deployments${query}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': type },
    body,
    headersTimeout: 120_000,
    bodyTimeout: 120_000,
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

function errorCode(reply: Reply): string | undefined {
  try {
    return JSON.parse(reply.text).error?.code;
  } catch {
    return undefined;
  }
}

async function tarGz(files: Map<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, text] of files) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, text);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return zlib.gzipSync(Buffer.concat(chunks));
}

/** waits until `tenant` answers `path` with `text` (the store watcher tells the tenant layer within a second) */
async function until(tenant: string, p: string, check: (r: Reply) => boolean, init: { host?: string } = {}) {
  const end = Date.now() + 10_000;
  for (;;) {
    const r = await islet.hit(tenant, p, init);
    if (check(r)) return r;
    assert.ok(Date.now() < end, `${tenant}${p} never answered as expected (last: ${r.status} ${r.text.slice(0, 200)})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += dirBytes(full);
    else if (entry.isFile()) total += fs.statSync(full).size;
  }
  return total;
}

async function metricsText(): Promise<string> {
  const res = await islet.admin('GET', '/metrics');
  assert.equal(res.status, 200, res.text.slice(0, 200));
  return res.text;
}

function metricValue(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

// ---- finding 1: builds ----

test('an upload that overflows the build (2 MB of nested brackets) fails alone; every later deploy works', async () => {
  const auth = await tokenOf('brackets');
  const parens = `export default ${'('.repeat(1e6)}1${')'.repeat(1e6)}`;
  const squares = `export default ${'['.repeat(1e6)}${']'.repeat(1e6)}`;
  const { result } = await underAttack(
    islet,
    async () => {
      const replies = [await upload('brackets', parens, auth), await upload('brackets', squares, auth)];
      const others = [];
      for (const tenant of ['brackets', 'afterwards']) {
        const own = tenant === 'brackets' ? auth : await tokenOf(tenant);
        others.push(await upload(tenant, hello(`${tenant} built`), own));
      }
      return { replies, others };
    },
    { label: 'nested brackets' },
  );
  for (const reply of result.replies) {
    assert.ok(reply.status === 400 || reply.status === 422, `${reply.status} ${reply.text}`);
    assert.equal(errorCode(reply), 'BUILD_LIMIT_EXCEEDED', reply.text);
    assert.match(JSON.parse(reply.text).error.message, /memory|nest|stack/i);
  }
  for (const reply of result.others) assert.equal(reply.status, 201, reply.text);
  await until('afterwards', '/', (r) => r.text === 'afterwards built');
});

test('a build past the build time limit (a 3,000-module import chain) is stopped with a clear 422', async () => {
  // its own server, with a build time limit well under what the chain takes on any machine
  const strict = await startIslet((config) => {
    config.logRequests = false;
    set(config, 'deploy.buildTimeoutMs', 1500);
  });
  try {
    await strict.deployReady('neighbour', neighbourCode);
    await strict.admin('PUT', '/v1/tenants/chain', {});
    const created = JSON.parse((await strict.admin('POST', '/v1/tenants/chain/tokens', {})).text);
    const auth = { authorization: `Bearer ${created.token}` };
    const files = new Map<string, string>();
    const n = 3000;
    for (let i = 0; i < n; i++) files.set(`m${i}.js`, `import next from './m${i + 1}.js';\nexport default next + 1;\n`);
    files.set(`m${n}.js`, 'export default 0;\n');
    files.set('index.js', `import depth from './m0.js';\n${hello('chain').replace('"chain"', 'String(depth)')}`);
    const archive = await tarGz(files);
    const send = (body: string | Buffer, type: string) =>
      request(`http://127.0.0.1:${strict.serving.adminPort}/v1/tenants/chain/deployments`, {
        method: 'POST',
        headers: { ...auth, 'content-type': type },
        body,
        headersTimeout: 120_000,
        bodyTimeout: 120_000,
      }).then(async (res) => ({ status: res.statusCode, headers: res.headers, text: await res.body.text() }) as Reply);
    const started = Date.now();
    const { result } = await underAttack(strict, () => send(archive, 'application/gzip'), { label: 'import chain' });
    const took = Date.now() - started;
    assert.equal(result.status, 422, result.text);
    assert.equal(errorCode(result), 'BUILD_LIMIT_EXCEEDED');
    assert.match(JSON.parse(result.text).error.message, /did not finish within 1500 ms/);
    assert.ok(took < 10_000, `the build was stopped near its limit, not left to finish (${took} ms)`);
    // and the build slot is free again
    assert.equal((await send(hello('short'), 'application/javascript')).status, 201);
  } finally {
    await strict.close();
  }
});

test("40 parallel uploads from one tenant's token do not lock other tenants out of deploying", async () => {
  const flood = await tokenOf('flooder');
  const patient = await tokenOf('patient');
  // each flood upload is a few hundred modules: real build work, seconds in all
  const files = new Map<string, string>();
  for (let i = 0; i < 300; i++) files.set(`m${i}.js`, `export default ${i};\n`);
  files.set(
    'index.js',
    `${[...files.keys()].map((f, i) => `import v${i} from './${f}';`).join('\n')}\n${hello('flood')}`,
  );
  const archive = await tarGz(files);
  const { result } = await underAttack(
    islet,
    async () => {
      const floods = Array.from({ length: 40 }, () => upload('flooder', archive, flood, '', 'application/gzip'));
      await new Promise((r) => setTimeout(r, 300));
      const mine: Reply[] = [];
      for (let i = 0; i < 3; i++) mine.push(await upload('patient', hello(`patient ${i}`), patient));
      return { mine, floods: await Promise.all(floods) };
    },
    { label: '40 parallel uploads' },
  );
  for (const reply of result.mine) assert.equal(reply.status, 201, `the other tenant's deploy: ${reply.text}`);
  const statuses = result.floods.map((r) => r.status);
  assert.ok(statuses.includes(201), `some of the flood was built: ${statuses}`);
  for (const r of result.floods) assert.ok(r.status === 201 || r.status === 503, `${r.status} ${r.text}`);
});

test('2,500 one-line modules deploy and cold start without freezing the neighbour', async () => {
  const auth = await tokenOf('wide');
  const files = new Map<string, string>();
  const n = 2500;
  for (let i = 0; i < n; i++) files.set(`lib/m${i}.js`, `export default ${i};\n`);
  const imports = [...files.keys()].map((f, i) => `import v${i} from './${f}';`).join('\n');
  const sum = Array.from({ length: n }, (_, i) => `v${i}`).join('+');
  files.set('index.js', `${imports}\nconst total = ${sum};\n${hello('x').replace('"x"', 'String(total)')}`);
  const archive = await tarGz(files);
  const expected = String((n * (n - 1)) / 2);
  const deployStarted = Date.now();
  const deployed = await underAttack(islet, () => upload('wide', archive, auth, '', 'application/gzip'), {
    label: '2,500 modules: deploy',
  });
  process.stderr.write(`# 2,500 modules: deploy answered in ${Date.now() - deployStarted} ms (baseline included)\n`);
  assert.equal(deployed.result.status, 201, deployed.result.text);
  await until('wide', '/', (r) => r.status === 200 && r.text === expected);
  // every env change starts a new isolate: three more cold starts, measured (a round failed by the
  // latency bound alone, on a shared machine, runs once more with new env values)
  let round = 0;
  const cold = await twice(() =>
    underAttack(
      islet,
      async () => {
        const times: number[] = [];
        round++;
        for (let i = 0; i < 3; i++) {
          const env = await islet.admin('PUT', '/v1/tenants/wide/env', { vars: { ROUND: `${round}-${i}` } });
          assert.equal(env.status, 200, env.text);
          await new Promise((r) => setTimeout(r, 1200));
          const started = Date.now();
          const r = await islet.hit('wide', '/');
          times.push(Date.now() - started);
          assert.equal(r.text, expected);
        }
        return times;
      },
      { label: '2,500 modules: cold starts' },
    ),
  );
  process.stderr.write(`# 2,500 modules: cold start + first request ${cold.result.join(', ')} ms\n`);
  assert.ok(cold.latency.during.max < 1000, `the neighbour never waited a second (max ${cold.latency.during.max} ms)`);
});

// ---- finding 8: storage ----

test('storage is bounded per tenant: repeated 9 MB uploads prune the oldest inactive versions', async () => {
  const auth = await tokenOf('hoarder');
  const store = islet.config.dataDir;
  const before = dirBytes(store);
  const big = (i: number) =>
    `const blob = ${JSON.stringify(`${i}`.padEnd(9 * 1024 * 1024, 'x'))};\n${hello('x').replace('"x"', 'String(blob.length)')}`;
  const { result } = await underAttack(
    islet,
    async () => {
      const out: Reply[] = [];
      for (let i = 0; i < 5; i++) out.push(await upload('hoarder', big(i), auth));
      return out;
    },
    { label: '9 MB uploads' },
  );
  for (const reply of result) assert.equal(reply.status, 201, reply.text);
  const grown = dirBytes(store) - before;
  assert.ok(grown < 60 * 1024 * 1024, `the data folder grew ${(grown / 1048576).toFixed(1)} MiB for 5 uploads of 9 MB`);
  const list = JSON.parse((await islet.admin('GET', '/v1/tenants/hoarder/deployments')).text);
  assert.ok(list.deployments.length < 5, `older versions were pruned (${list.deployments.length} kept)`);
  assert.equal(list.deployments[0].id, list.active, 'the newest upload is the active one');
});

test('storage quota with the refuse policy: 413 QUOTA_EXCEEDED, nothing pruned', async () => {
  const strict = await startIslet((config) => {
    config.logRequests = false;
    set(config, 'deploy.maxStoredBytes', 16 * 1024 * 1024);
    set(config, 'deploy.maxVersions', 3);
    set(config, 'deploy.quotaPolicy', 'refuse');
  });
  try {
    const statuses: number[] = [];
    let last: Reply | undefined;
    for (let i = 0; i < 4; i++) {
      last = await strict.deploy('keeper', hello(`v${i}`));
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [201, 201, 201, 409], last?.text ?? '');
    assert.equal(errorCode(last!), 'QUOTA_EXCEEDED');
    assert.match(JSON.parse(last!.text).error.message, /3 versions/);
    const big = `const blob = ${JSON.stringify('y'.repeat(9 * 1024 * 1024))};\nexport default { fetch() { return new Response(String(blob.length)); } };`;
    const sized = await strict.deploy('sized', big);
    assert.equal(sized.status, 413, sized.text);
    assert.equal(errorCode(sized), 'QUOTA_EXCEEDED');
  } finally {
    await strict.close();
  }
});

// ---- finding 2: cold starts ----

test('top-level code is held to the startup CPU limit (deploy refused)', async () => {
  const res = await islet.deploy('burner', `let x = 0; for (let i = 0; i < 2e9; i++) x += i;\n${hello('burnt')}`);
  assert.equal(res.status, 400, res.text);
  assert.equal(errorCode(res), 'DEPLOYMENT_REJECTED');
  assert.match(JSON.parse(res.text).error.message, /CPU/);
});

test('isolates that die at start are charged and backed off: 503 with Retry-After, logged and counted', async () => {
  // stored past the deploy-time check, as a deployment that only fails on the serving machine would be
  await islet.admin('PUT', '/v1/tenants/dier', { limits: { memoryMb: 16 } });
  const code = `globalThis.keep = []; for (let i = 0; ; i++) keep.push({ i, s: 'o' + i, next: keep[i - 1] });
${hello('never')}`;
  await publish({ store: islet.serving.store }, 'dier', new Map([['index.js', Buffer.from(code)]]), {});
  const { result } = await underAttack(
    islet,
    async () => {
      const started = Date.now();
      const replies: { at: number; reply: Reply }[] = [];
      const end = Date.now() + 6000;
      while (Date.now() < end) {
        const r = await islet.hit('dier', '/');
        if (r.status === 404) continue; // the tenant layer has not heard of it yet
        replies.push({ at: Date.now() - started, reply: r });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return replies;
    },
    { label: 'dying at start' },
  );
  const kinds = result.map(({ reply }) => `${reply.status} ${reply.headers['islet-error']}`);
  assert.equal(kinds[0], '503 memory', 'the first start is killed over its memory limit');
  const backedOff = result.filter(({ reply }) => reply.headers['islet-error'] === 'backoff');
  assert.ok(backedOff.length > 0, `later requests are backed off: ${kinds.join(', ')}`);
  for (const { reply } of backedOff) {
    assert.equal(reply.status, 503);
    assert.ok(Number(reply.headers['retry-after']) >= 1, `Retry-After: ${reply.headers['retry-after']}`);
  }
  const late = result.filter(({ at }) => at > 4000);
  const lateStarts = late.filter(({ reply }) => reply.headers['islet-error'] !== 'backoff').length;
  assert.ok(lateStarts <= 2, `backed off, the tenant costs at most a start or two in 2 s (${lateStarts}): ${kinds}`);
  const metrics = await metricsText();
  assert.ok(metricValue(metrics, 'islet_isolate_backoffs_total', 'tenant="dier"') > 0, 'back-offs are counted');
  assert.ok(
    metricValue(metrics, 'islet_startup_cpu_seconds_total', 'tenant="dier"') > 0,
    'the CPU of the failed starts is charged to the tenant',
  );
  assert.ok(
    islet.logs.some((l) => l.msg === 'tenant backed off' && l.tenant === 'dier'),
    'the back-off is logged',
  );
});

// ---- finding 3: exception text ----

test('an 8.8 MB exception stack per request: the log line is bounded and the neighbour unaffected', async () => {
  await islet.deployReady(
    'stackbomb',
    attacker(`
      const path = new URL(request.url).pathname;
      // the controls build and read the same text (as the shims read a thrown error's), then answer
      if (path === '/control-message') {
        const e = new Error('m'.repeat(8e6));
        return new Response(e.stack.slice(0, 5) + (e.name + ': ' + e.message).slice(0, 5));
      }
      if (path === '/message') throw new Error('m'.repeat(8e6));
      const text = 'Error\\n' + '    at f (file:///index.js:2:10)\\n'.repeat(4e5);
      if (path === '/control') return new Response(String(text.slice(0, 5) + text.length));
      throw { stack: text };`),
  );
  // one request after the other, 20 a second for 3 s: each costs the attacker its own CPU
  // (building 13 MB of text, ~10 ms, charged to it), which the control costs too; what islet does
  // with the thrown text must add nothing that matters to what the neighbour waits
  const hammer = (paths: string[]) => async () => {
    const end = Date.now() + 3000;
    const statuses = new Set<number>();
    let sent = 0;
    while (Date.now() < end) {
      const r = await islet.hit('stackbomb', paths[sent++ % paths.length]!);
      statuses.add(r.status);
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    return { statuses, sent };
  };
  const { bombed, logBefore } = await twice(async () => {
    const control = await underAttack(islet, hammer(['/control', '/control-message']), {
      label: 'stack bomb control (same CPU, no throw)',
      control: true,
    });
    assert.deepEqual([...control.result.statuses], [200]);
    const logBefore = islet.logBytes();
    const { result: bombed } = await underAttack(islet, hammer(['/', '/message']), {
      label: 'stack bomb',
      reference: control.latency.during,
    });
    return { bombed, logBefore };
  });
  const result = bombed.statuses;
  const bombs = bombed.sent;
  assert.deepEqual([...result], [500]);
  const grown = islet.logBytes() - logBefore;
  process.stderr.write(`# stack bomb: ${bombed.sent} requests, log grew ${grown} bytes\n`);
  assert.ok(grown / bombs < 40 * 1024, `${(grown / bombs).toFixed(0)} log bytes per thrown bomb (${bombs} thrown)`);
  const line = islet.logs.filter((l) => l.tenant === 'stackbomb' && l.source === 'exception').at(-1)!;
  assert.ok(line, 'the exception is logged');
  const stack = String(line.stack ?? '');
  assert.ok(Buffer.byteLength(stack) <= 17 * 1024, `stack of ${Buffer.byteLength(stack)} bytes`);
  assert.ok(stack.split('\n').length <= 66, `${stack.split('\n').length} stack lines`);
  const message = islet.logs.filter((l) => l.tenant === 'stackbomb' && String(l.msg).includes('Error: mmm')).at(-1);
  assert.ok(message && Buffer.byteLength(String(message.msg)) <= 17 * 1024, 'the message is cut too');
});

// ---- finding 7: hostnames ----

test('the base domain belongs to the platform: no route on it but a tenant own name', async () => {
  await islet.deployReady('sqb', hello('sqb itself'));
  const auth = await tokenOf('grabber');
  for (const route of [
    'login.sqb.localhost/*',
    '*.localhost/*',
    'localhost/*',
    'www.sqb.localhost/*',
    'x.y.localhost/*',
    '*.sqb.localhost/*',
  ]) {
    const res = await upload('grabber', hello('grabbed'), auth, `?routes=${encodeURIComponent(route)}`);
    assert.equal(res.status, 403, `${route}: ${res.text}`);
    assert.equal(errorCode(res), 'HOSTNAME_RESERVED', res.text);
  }
  // nor for the operator: the names under the base domain are how tenants are told apart
  const operator = await islet.deploy('grabber', hello('grabbed'), { query: '?routes=login.sqb.localhost/*' });
  assert.equal(operator.status, 403, operator.text);
  assert.equal((await upload('grabber', hello('mine'), auth, '?routes=grabber.localhost/*')).status, 201);
  for (const host of ['login.sqb.localhost', 'www.sqb.localhost', 'x.y.localhost']) {
    const r = await islet.hit('grabber', '/', { host });
    assert.notEqual(r.text, 'grabbed', host);
    assert.equal(r.status, 404, `${host}: ${r.status} ${r.text}`);
  }
  assert.equal((await islet.hit('sqb', '/')).text, 'sqb itself');
});

test('custom hostnames: only those the operator assigned or the tenant proved (HTTP token)', async () => {
  const auth = await tokenOf('shopper');
  const refused = await upload('shopper', hello('shop'), auth, '?routes=shop.example.test/*');
  assert.equal(refused.status, 403, refused.text);
  assert.equal(errorCode(refused), 'HOSTNAME_NOT_VERIFIED');
  assert.match(JSON.parse(refused.text).error.message, /shop\.example\.test/);
  // the operator assigns it
  const assigned = await islet.admin('PUT', '/v1/tenants/shopper/hostnames/shop.example.test', {});
  assert.equal(assigned.status, 200, assigned.text);
  assert.equal((await upload('shopper', hello('shop'), auth, '?routes=shop.example.test/*')).status, 201);
  await until('shopper', '/', (r) => r.text === 'shop', { host: 'shop.example.test' });
  // a tenant cannot assign itself a hostname
  const self = await request(
    `http://127.0.0.1:${islet.serving.adminPort}/v1/tenants/shopper/hostnames/other.example.test`,
    { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' },
  );
  assert.equal(self.statusCode, 403);
  await self.body.text();
  // it proves one instead: islet fetches http://<host>/.well-known/islet-challenge/<token>
  const asked = await request(`http://127.0.0.1:${islet.serving.adminPort}/v1/tenants/shopper/hostnames`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ hostname: '127.0.0.2' }),
  });
  const pending = (await asked.body.json()) as { token: string; verified: boolean };
  assert.equal(asked.statusCode, 201, JSON.stringify(pending));
  assert.equal(pending.verified, false);
  const verify = () =>
    request(`http://127.0.0.1:${islet.serving.adminPort}/v1/tenants/shopper/hostnames/127.0.0.2/verify`, {
      method: 'POST',
      headers: auth,
    });
  const early = await verify();
  const earlyBody = (await early.body.json()) as { error: { code: string; message: string } };
  assert.equal(early.statusCode, 409, JSON.stringify(earlyBody));
  assert.equal(earlyBody.error.code, 'HOSTNAME_NOT_VERIFIED');
  challengeTokens.set(`127.0.0.2 ${pending.token}`, pending.token);
  const proved = await verify();
  assert.equal(proved.statusCode, 200, await proved.body.text());
  assert.equal((await upload('shopper', hello('ip'), auth, '?routes=127.0.0.2/*')).status, 201);
});

test('two deploys racing for one route: exactly one wins', async () => {
  const a = await tokenOf('racer-a');
  const b = await tokenOf('racer-b');
  for (const t of ['racer-a', 'racer-b']) {
    assert.equal((await islet.admin('PUT', `/v1/tenants/${t}/hostnames/race.example.test`, {})).status, 200);
  }
  const replies = await Promise.all([
    upload('racer-a', hello('a'), a, '?routes=race.example.test/*'),
    upload('racer-b', hello('b'), b, '?routes=race.example.test/*'),
  ]);
  assert.deepEqual(replies.map((r) => r.status).sort(), [201, 409], replies.map((r) => r.text).join('\n'));
});

test("a tenant's cookies cannot name other tenants' hostnames (Domain= rewritten to the request host)", async () => {
  await islet.deployReady(
    'baker',
    attacker(`
      const headers = new Headers();
      headers.append('set-cookie', 'a=1; Domain=localhost; Path=/');
      headers.append('set-cookie', 'b=2; Path=/; domain=.SQB.localhost; HttpOnly');
      headers.append('set-cookie', 'c=3; Domain=baker.localhost');
      headers.append('set-cookie', 'd=4; Secure');
      return new Response('baked', { headers });`),
  );
  const r = await islet.hit('baker', '/bake');
  assert.equal(r.status, 200);
  const cookies = r.headers['set-cookie'] as string[];
  assert.deepEqual(cookies, ['a=1; Path=/', 'b=2; Path=/; HttpOnly', 'c=3; Domain=baker.localhost', 'd=4; Secure']);
});

// ---- finding 9: smaller leaks ----

test('request ids are random: an outsider cannot count another tenant requests', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 40; i++) {
    const r = await islet.hit(i % 2 ? 'neighbour' : 'nobody-here', '/');
    ids.push(String(r.headers['islet-request-id']));
  }
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.match(id, /^[0-9a-f]{24,}$/, id);
  const prefixes = new Set(ids.map((id) => id.slice(0, 8)));
  assert.equal(prefixes.size, ids.length, 'no shared prefix (no per-process prefix and counter)');
});

test('the clock stands still while tenant code runs and moves at I/O', async () => {
  await islet.deployReady(
    'clock',
    attacker(`
      const t0 = Date.now(), p0 = performance.now(), d0 = new Date().getTime(), s0 = Date();
      let x = 0; for (let i = 0; i < 2e7; i++) x += i;
      const t1 = Date.now(), p1 = performance.now(), d1 = new Date().getTime(), s1 = Date();
      await new Promise((r) => setTimeout(r, 30));
      const t2 = Date.now(), p2 = performance.now();
      return Response.json({
        still: t0 === t1 && p0 === p1 && d0 === d1 && s0 === s1 && t0 === d0,
        moved: t2 - t1 >= 25 && p2 - p1 >= 25,
        date: new Date(2020, 0, 1).getFullYear() === 2020 && new Date(0).getTime() === 0 && new Date() instanceof Date,
        x: x > 0,
      });`),
    { cpuMs: 2000 },
  );
  const r = await islet.hit('clock', '/');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(JSON.parse(r.text), { still: true, moved: true, date: true, x: true });
});

test('bad Host headers are answered without an error line per request', async () => {
  const loud = () => islet.logs.filter((l) => l.level === 'error' || l.level === 'warn').length;
  const before = loud();
  for (const host of ['-x.localhost', 'x-.localhost', '-.localhost', 'a--b-.localhost', 'x_y.localhost']) {
    for (let i = 0; i < 20; i++) {
      const r = await islet.hit('x', '/', { host });
      assert.ok(r.status === 400 || r.status === 404, `${host}: ${r.status}`);
      assert.ok(r.headers['islet-request-id']);
    }
  }
  assert.equal(loud(), before, 'no error or warn line was logged for them');
});

test('one client cannot hold thousands of connections: past the cap they are closed at once, counted', async () => {
  const { result } = await underAttack(
    islet,
    async () => {
      const sockets = await Promise.all(
        Array.from(
          { length: 200 },
          () =>
            new Promise<net.Socket>((resolve) => {
              const s = net.connect({ host: '127.0.0.1', port: islet.serving.tenantPort, localAddress: '127.0.0.3' });
              s.on('error', () => {});
              s.once('connect', () => resolve(s));
              s.once('close', () => resolve(s));
            }),
        ),
      );
      await new Promise((r) => setTimeout(r, 500));
      const open = sockets.filter((s) => !s.destroyed && s.readyState === 'open');
      // one of those kept still serves
      const answer = await new Promise<string>((resolve) => {
        const s = open[0]!;
        let text = '';
        s.on('data', (d) => (text += d));
        s.once('end', () => resolve(text));
        s.write('GET / HTTP/1.1\r\nHost: neighbour.localhost\r\nConnection: close\r\n\r\n');
      });
      for (const s of sockets) s.destroy();
      return { open: open.length, answer };
    },
    { label: 'connection flood' },
  );
  assert.ok(result.open <= 32, `${result.open} connections stayed open (cap 32)`);
  assert.match(result.answer, /^HTTP\/1\.1 200/);
  const refused = (await metricsText()).split('\n').find((l) => l.startsWith('islet_connections_refused_total'));
  assert.ok(refused && Number(refused.split(' ').at(-1)) >= 168, `counted: ${refused}`);
});

test('egress: local-use NAT64, Teredo, ORCHID, benchmarking and the other special IPv6 ranges are refused', async () => {
  const targets = [
    '64:ff9b:1::a00:1', // local-use NAT64 (RFC 8215)
    '64:ff9b:1:ffff::7f00:1',
    '2001::1', // Teredo
    '2001:0:4136:e378:8000:63bf:3fff:fdd2',
    '2001:2::1', // benchmarking
    '2001:10::1', // ORCHID (deprecated)
    '2001:20::1', // ORCHIDv2
    '2001:db8::1', // documentation
    '3fff::1', // documentation (RFC 9637)
    '2002:a00:1::1', // 6to4 of 10.0.0.1
    '100::1', // discard-only
    '5f00::1', // SRv6 SIDs
    '2620:4f:8000::1', // AS112 (special-purpose, not forwardable)
  ];
  await islet.deployReady(
    'v6',
    attacker(`
      const out = {};
      for (const t of ${JSON.stringify(targets)}) {
        try { const r = await fetch('http://[' + t + ']/'); out[t] = 'reached ' + r.status; }
        catch (e) { out[t] = e.message; }
      }
      return Response.json(out);`),
  );
  const attempts = outsideAttempts.length;
  const r = await islet.hit('v6', '/');
  assert.equal(r.status, 200, r.text);
  const out = JSON.parse(r.text) as Record<string, string>;
  for (const t of targets) assert.match(out[t]!, /refused|reserved|not allowed/i, `${t}: ${out[t]}`);
  assert.equal(outsideAttempts.length, attempts, `no connection was attempted: ${outsideAttempts.join(', ')}`);
  outsideAttempts.length = attempts;
});
