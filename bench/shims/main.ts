// bench/shims: what the shims cost.
//  1. bootstrap per new context: a fresh isolate + createSandbox (context, bootstrap, bridge),
//     compiling the bootstrap without and with the process's cached data; isolate creation and
//     an empty context are measured beside it as the baseline;
//  2. lazy globals: the first touch of ReadableStream / URLPattern / crypto.subtle in a context;
//  3. per request: dispatch of a hello-world handler that builds the Request (headers, URL) and
//     returns a Response, against a bare applySync of an empty function (the floor of one entry).
// Run: npm run build && node --no-node-snapshot dist/bench/shims/main.js [--json]
// (on the reference library: add -r ./scripts/reference-isolate.js)
import { createSandbox } from '../../server/host/sandbox';
import { isolateApi, type Isolate } from '../../server/host/isolate-api';
import type { RequestLimits, Sandbox, SandboxRequest } from '../../server/host/types';
import { median, percentileSorted, round } from '../lib/stats';

const limits: RequestLimits = {
  cpuMs: 1000,
  wallMs: 10000,
  requestBodyBytes: 1 << 20,
  responseBodyBytes: 1 << 20,
  subrequests: 10,
  subrequestTimeoutMs: 5000,
  subrequestResponseBytes: 1 << 20,
  logBytes: 1 << 16,
};
const options = { tenant: 'bench', deployment: 'd', env: { A: '1' }, limits, egress: { allow: [] }, log() {} };

function ms(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: round(median(samples), 3), p90: round(percentileSorted(sorted, 90), 3), min: round(sorted[0], 3) };
}

function coldStart(rounds: number) {
  const isolateOnly: number[] = [];
  const emptyContext: number[] = [];
  const noCache: number[] = [];
  const cached: number[] = [];
  for (let i = 0; i < rounds; i++) {
    let isolate!: Isolate;
    isolateOnly.push(ms(() => (isolate = new (isolateApi().Isolate)({ memoryLimit: 64 }))));
    emptyContext.push(ms(() => isolate.createContextSync().release()));
    isolate.dispose();

    const a = new (isolateApi().Isolate)({ memoryLimit: 64 });
    let sandbox!: Sandbox;
    noCache.push(ms(() => (sandbox = createSandbox(a, options, { codeCache: false }))));
    sandbox.dispose();
    a.dispose();

    const b = new (isolateApi().Isolate)({ memoryLimit: 64 });
    cached.push(ms(() => (sandbox = createSandbox(b, options))));
    sandbox.dispose();
    b.dispose();
  }
  return {
    isolate: stats(isolateOnly),
    emptyContext: stats(emptyContext),
    sandboxNoCache: stats(noCache),
    sandboxCached: stats(cached),
  };
}

function lazyGlobals(rounds: number) {
  const out: Record<string, number[]> = { ReadableStream: [], URLPattern: [], 'crypto.subtle': [] };
  for (let i = 0; i < rounds; i++) {
    for (const name of Object.keys(out)) {
      const isolate = new (isolateApi().Isolate)({ memoryLimit: 64 });
      const sandbox = createSandbox(isolate, options);
      out[name].push(ms(() => sandbox.context.evalSync(`typeof ${name}`)));
      sandbox.dispose();
      isolate.dispose();
    }
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, stats(v)]));
}

async function perRequest(count: number) {
  const isolate = new (isolateApi().Isolate)({ memoryLimit: 128 });
  const sandbox = createSandbox(isolate, options);
  const module = (isolate as unknown as { compileModuleSync(code: string): any }).compileModuleSync(
    `export default { fetch(request) {
       const ua = request.headers.get('user-agent');
       const path = new URL(request.url).pathname;
       return new Response('hello ' + path, { headers: { 'content-type': 'text/plain', 'x-ua': ua } });
     } };`,
  );
  module.instantiateSync(sandbox.context, () => {
    throw new Error('no imports');
  });
  module.evaluateSync();
  sandbox.bindModule(module.namespace);
  const headers = [
    'host',
    'bench.test',
    'user-agent',
    'bench/1.0',
    'accept',
    '*/*',
    'accept-encoding',
    'gzip',
    'connection',
    'keep-alive',
    'x-forwarded-for',
    '203.0.113.9',
  ];
  const request = (i: number): SandboxRequest => ({
    id: String(i),
    method: 'GET',
    url: `http://bench.test/p/${i & 7}`,
    headers,
    body: null,
  });
  // warm up
  for (let i = 0; i < 2000; i++) {
    const d = sandbox.dispatch(request(i));
    await d.response;
    await d.done;
  }
  const latencies: number[] = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const s = process.hrtime.bigint();
    const d = sandbox.dispatch(request(i));
    const res = await d.response;
    if (res.status !== 200) throw new Error('bad status');
    await d.done;
    latencies.push(Number(process.hrtime.bigint() - s) / 1e3);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

  // the floor: one applySync of an empty function in a context, per request
  const context = isolate.createContextSync();
  const empty = context.evalSync('(function (a, b, c, d) {})', { reference: true } as never);
  const floor: number[] = [];
  const f0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const s = process.hrtime.bigint();
    empty.applySync(undefined, [i, 'GET', 'http://bench.test/', headers], { arguments: { copy: true } });
    floor.push(Number(process.hrtime.bigint() - s) / 1e3);
  }
  const floorSeconds = Number(process.hrtime.bigint() - f0) / 1e9;
  sandbox.dispose();
  isolate.dispose();
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    requests: count,
    requestsPerSecond: Math.round(count / seconds),
    usPerRequest: { p50: round(percentileSorted(sorted, 50), 1), p99: round(percentileSorted(sorted, 99), 1) },
    emptyEntryUs: round(median(floor), 2),
    emptyEntriesPerSecond: Math.round(count / floorSeconds),
  };
}

async function main() {
  // the process's one-time warm-up (bootstrap + one request in a scratch isolate, then the code cache)
  const warm = new (isolateApi().Isolate)({ memoryLimit: 64 });
  const warmUpMs = ms(() => createSandbox(warm, options).dispose());
  warm.dispose();
  const result = {
    warmUpOnceMs: round(warmUpMs, 2),
    backend: require.resolve('../../native').includes('isolated-vm') ? 'reference (isolated-vm)' : 'islet native',
    coldStartMs: coldStart(20),
    lazyFirstUseMs: lazyGlobals(5),
    perRequest: await perRequest(20000),
  };
  console.log(process.argv.includes('--json') ? JSON.stringify(result) : JSON.stringify(result, null, 2));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
