// Tracing off (the default, and no OTEL_EXPORTER_OTLP_* endpoint): islet serves without loading
// any of OpenTelemetry's SDK or exporter modules, so untraced serving pays nothing for them. Its
// own process (node:test runs each file in one), so another suite's tracing cannot load them first.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHarness } from './serve-harness';
import { tracingWanted } from '../../server/observe/tracing/open';
import { loadConfig } from '../../server/config';

test('tracing off: requests are served and no OpenTelemetry SDK module is loaded', async () => {
  for (const name of Object.keys(process.env)) if (name.startsWith('OTEL_')) delete process.env[name];
  const h = await startHarness();
  try {
    await h.deploy('hello', { 'index.js': 'export default { async fetch() { return new Response("hi") } }' });
    for (let i = 0; i < 3; i++) assert.equal((await h.get('hello.localhost', '/')).text, 'hi');
    const loaded = Object.keys(require.cache).filter((file) =>
      /@opentelemetry[\\/](sdk-trace|exporter-trace-otlp-http|otlp-|resources)|tracing[\\/]otel\.js$/.test(file),
    );
    assert.deepEqual(loaded, []);
  } finally {
    await h.close();
  }
});

test('what turns tracing on and off', () => {
  const config = loadConfig({ env: {} });
  assert.equal(tracingWanted(config, {}), false);
  assert.equal(tracingWanted(config, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }), true);
  assert.equal(tracingWanted(config, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }), true);
  const on = loadConfig({ env: { ISLET_TRACING: 'true', ISLET_TRACE_SAMPLE_RATIO: '0.25' } });
  assert.equal(on.tracing.sampleRatio, 0.25);
  assert.equal(tracingWanted(on, {}), true);
  assert.equal(tracingWanted(on, { OTEL_SDK_DISABLED: 'true' }), false);
  assert.equal(tracingWanted(on, { OTEL_TRACES_EXPORTER: 'none' }), false);
  assert.throws(
    () => loadConfig({ env: { ISLET_TRACE_SAMPLE_RATIO: '1.5' } }),
    /ISLET_TRACE_SAMPLE_RATIO.*a number from 0 to 1/s,
  );
});
