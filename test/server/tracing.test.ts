// OpenTelemetry traces through a real islet, exported over OTLP/HTTP to a real receiver the test
// starts (./otlp-receiver.ts decodes the exporter's JSON): a request from a trusted peer continues
// the caller's trace; its server span carries tenant, deployment, status, CPU and wall time and
// cold start; its fetch() and KV get are child spans, and the fetch's upstream receives a
// traceparent naming the fetch span; a cron run is a trace of its own. A traceparent from a peer
// that is not trusted is ignored; sampling at 0 exports nothing but still propagates an
// unsampled context; a full export queue drops spans and counts them.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { deployProject } from './bindings-helpers';
import { type OtlpReceiver, startOtlpReceiver } from './otlp-receiver';
import { type Harness, startHarness } from './serve-harness';

const CALLER_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';

let receiver: OtlpReceiver;
let upstream: http.Server;
let upstreamUrl: string;
/** traceparent headers the upstream received, by path */
const seen: { path: string; traceparent: string | undefined }[] = [];

before(async () => {
  receiver = await startOtlpReceiver();
  // the standard variable the OTLP exporter reads: islet traces once it is set
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
  upstream = http.createServer((req, res) => {
    seen.push({ path: req.url ?? '', traceparent: req.headers.traceparent as string | undefined });
    res.end('upstream');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.2', resolve));
  upstreamUrl = `http://127.0.0.2:${(upstream.address() as AddressInfo).port}`;
});
after(async () => {
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  await receiver.close();
  await new Promise((resolve) => upstream.close(resolve));
});

function project(): Record<string, string> {
  return {
    'wrangler.toml': `name = "traced"
main = "index.js"
[vars]
UPSTREAM = "${upstreamUrl}"
[[kv_namespaces]]
binding = "KV"
id = "traced-kv"
`,
    'index.js': `
export default {
  async fetch(request, env) {
    const answer = await fetch(env.UPSTREAM + '/data?token=secret');
    const text = await answer.text();
    const value = await env.KV.get('missing');
    return new Response(text + ':' + value);
  },
  async scheduled(controller, env) {
    await (await fetch(env.UPSTREAM + '/cron')).text();
  },
};
`,
  };
}

describe('traces exported to an OTLP/HTTP receiver', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness((config) => {
      config.egress.allow = ['127.0.0.2'];
      config.tracing.trustedPeers = ['127.0.0.1'];
      config.tracing.scheduledDelayMs = 20;
    });
    await deployProject(h, 'traced', project());
  });
  after(() => h.close());

  it('a trusted caller’s trace continues: server span, fetch and KV children, traceparent upstream', async () => {
    const res = await h.get('traced.localhost', '/cart?id=7', {
      headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'upstream:null');
    const spans = await receiver.until((all) => all.some((s) => s.traceId === CALLER_TRACE && s.kind === 2));
    await receiver.until((all) => all.filter((s) => s.traceId === CALLER_TRACE).length >= 3);
    const ours = spans.filter((s) => s.traceId === CALLER_TRACE);
    const server = ours.find((s) => s.kind === 2)!;
    assert.equal(server.parentSpanId, CALLER_SPAN, 'the caller’s span is the parent');
    assert.equal(server.name, 'GET traced');
    const a = server.attributes;
    assert.equal(a['islet.tenant'], 'traced');
    assert.match(String(a['islet.deployment']), /\w+/);
    assert.equal(a['http.request.method'], 'GET');
    assert.equal(a['url.path'], '/cart');
    assert.equal(a['http.response.status_code'], 200);
    assert.equal(typeof a['islet.cpu_ms'], 'number');
    assert.ok(Number(a['islet.wall_ms']) > 0);
    assert.equal(a['islet.cold_start'], true, 'the first request started the isolate');
    assert.match(String(a['islet.request_id']), /\w+/);
    assert.equal(server.resource['service.name'], 'islet');

    const fetchSpan = ours.find((s) => s.name.startsWith('fetch GET'))!;
    assert.ok(fetchSpan, `a fetch span: ${ours.map((s) => s.name)}`);
    assert.equal(fetchSpan.parentSpanId, server.spanId);
    assert.equal(fetchSpan.kind, 3, 'client');
    assert.equal(fetchSpan.attributes['url.full'], `${upstreamUrl}/data`, 'no query string (it may hold secrets)');
    assert.equal(fetchSpan.attributes['http.response.status_code'], 200);
    assert.ok(fetchSpan.startNs >= server.startNs && fetchSpan.endNs <= server.endNs, 'inside the request');
    const upstreamSaw = seen.find((s) => s.path.startsWith('/data'))!.traceparent;
    assert.equal(upstreamSaw, `00-${CALLER_TRACE}-${fetchSpan.spanId}-01`, 'propagated to the outbound fetch');

    const kv = ours.find((s) => s.name === 'kv.get')!;
    assert.ok(kv, `a KV span: ${ours.map((s) => s.name)}`);
    assert.equal(kv.parentSpanId, server.spanId);
    assert.equal(kv.attributes['islet.binding'], 'KV');
    assert.equal(kv.attributes['islet.binding.type'], 'kv');

    // a second request is warm
    await h.get('traced.localhost', '/again');
    const warm = await receiver.until((all) => all.some((s) => s.attributes['url.path'] === '/again'));
    assert.equal(warm.find((s) => s.attributes['url.path'] === '/again')!.attributes['islet.cold_start'], false);
  });

  it('a cron run is a trace of its own with its fetch under it', async () => {
    const result = await h.serving.cron.run('traced', '*/5 * * * *', Date.now());
    assert.equal(result.outcome, 'ok', String(result.error));
    const spans = await receiver.until((all) => all.some((s) => s.name === 'scheduled traced'));
    const run = spans.find((s) => s.name === 'scheduled traced')!;
    assert.equal(run.parentSpanId, '', 'a root span');
    assert.equal(run.attributes['islet.cron'], '*/5 * * * *');
    assert.equal(run.attributes['islet.outcome'], 'ok');
    const child = await receiver.until((all) => all.some((s) => s.parentSpanId === run.spanId));
    assert.ok(child.find((s) => s.parentSpanId === run.spanId)!.name.startsWith('fetch GET'));
    assert.equal(seen.find((s) => s.path === '/cron')!.traceparent?.slice(3, 35), run.traceId);
  });
});

describe('untrusted peers, sampling at 0, a full queue', () => {
  it('ignores an untrusted traceparent; sampled at 0 exports nothing yet propagates an unsampled context', async () => {
    const h = await startHarness((config) => {
      config.egress.allow = ['127.0.0.2'];
      config.tracing.trustedPeers = ['10.0.0.0/8'];
      config.tracing.sampleRatio = 0;
      config.tracing.scheduledDelayMs = 20;
    });
    try {
      await deployProject(h, 'traced', project());
      const before = receiver.spans.length;
      seen.length = 0;
      const res = await h.get('traced.localhost', '/x', {
        headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` },
      });
      assert.equal(res.status, 200, res.text);
      const sent = seen.find((s) => s.path.startsWith('/data'))!.traceparent!;
      assert.match(sent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/, 'an unsampled context goes on');
      assert.notEqual(sent.slice(3, 35), CALLER_TRACE, 'the untrusted caller did not choose the trace');
      await h.serving.close();
      assert.equal(receiver.spans.length, before, 'nothing sampled, nothing exported');
    } finally {
      await h.close();
    }
  });

  it('a collector that does not answer: the queue fills, spans are dropped and counted, serving goes on', async () => {
    // a collector that reads requests and never answers them
    const stuck = http.createServer(() => {});
    await new Promise<void>((resolve) => stuck.listen(0, '127.0.0.1', resolve));
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${(stuck.address() as AddressInfo).port}`;
    process.env.OTEL_EXPORTER_OTLP_TIMEOUT = '1000';
    let h: Harness | undefined;
    try {
      h = await startHarness((config) => {
        config.tracing.maxQueueSize = 1;
        config.tracing.maxExportBatchSize = 1;
      });
      await h.deploy('hello', { 'index.js': 'export default { fetch() { return new Response("hi") } }' });
      // the first span's export hangs, the second waits in the queue, the others find it full
      for (let i = 0; i < 5; i++) assert.equal((await h.get('hello.localhost', '/')).status, 200);
      const metrics = await request(`http://127.0.0.1:${h.serving.adminPort}/metrics`, {
        headers: { authorization: 'Bearer test-operator-token' },
      });
      const text = await metrics.body.text();
      const dropped = /islet_trace_spans_dropped_total\{reason="queue_full"\} (\d+)/.exec(text);
      assert.ok(dropped && Number(dropped[1]) >= 3, `3 of 5 server spans dropped: ${dropped?.[0]}`);
    } finally {
      await h?.close();
      process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
      delete process.env.OTEL_EXPORTER_OTLP_TIMEOUT;
      stuck.closeAllConnections();
      await new Promise((resolve) => stuck.close(resolve));
    }
  });
});
