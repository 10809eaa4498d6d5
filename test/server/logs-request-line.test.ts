// The request line is serialized by hand for speed; readers (islet logs, the dashboard, log
// shippers) rely on it being the JSON it has always been. Checked against JSON.stringify of the
// same record over hostile paths and methods, odd numbers and missing fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Logger } from '../../server/observe/server-log';
import { LogHub } from '../../server/observe/tenant-logs/hub';
import { requestLine, roundMs, type RequestLogLine } from '../../server/observe/tenant-logs/request-line';

const TIME = '2026-11-22T05:40:00.123Z';

function reference(level: string, r: RequestLogLine): string {
  return JSON.stringify({
    time: TIME, level, msg: 'request', tenant: r.tenant, deployment: r.deployment, requestId: r.requestId, source: 'request',
    method: r.method, path: r.path, status: r.status, cpuMs: roundMs(r.cpuMs), wallMs: roundMs(r.wallMs), cold: r.cold,
  });
}

const base: RequestLogLine = { tenant: 'shop', deployment: 'd-1', requestId: 'r-1', method: 'GET', path: '/', status: 200, cpuMs: 0.0214, wallMs: 0.0335, cold: false };

test('a path with quotes, backslashes, control characters and lone surrogates still gives valid JSON', () => {
  const path = '/a"b\\c\n\r\t\u0000\u001f\u007f/é/😀/\ud800/\udfff?q="x"';
  const line = requestLine(TIME, 'info', { ...base, path, method: 'GE"T' });
  assert.equal(line, reference('info', { ...base, path, method: 'GE"T' }));
  const parsed = JSON.parse(line);
  // lone surrogates are escaped (\ud800), so even they come back as they were
  assert.equal(parsed.path, path);
  assert.equal(parsed.method, 'GE"T');
  assert.ok(!/[\u0000-\u001f]/.test(line), 'a raw control character in the line');
});

test('the line is exactly what JSON.stringify writes for the record, for any field values', () => {
  const text = fc.string({ unit: 'binary', maxLength: 40 });
  const number = fc.oneof(fc.double(), fc.integer({ min: -1000, max: 1000 }), fc.constantFrom(-0, NaN, Infinity, -Infinity, 0.0005, 1e21, 5e-7));
  const maybe = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 5, arbitrary: arb }, { weight: 1, arbitrary: fc.constant(undefined as unknown as T) });
  fc.assert(
    fc.property(
      fc.record({
        tenant: maybe(text), deployment: maybe(text), requestId: maybe(text), method: maybe(text), path: maybe(text),
        status: maybe(number), cpuMs: maybe(number), wallMs: maybe(number), cold: maybe(fc.boolean()),
      }),
      fc.constantFrom('info', 'warn'),
      (r, level) => {
        assert.equal(requestLine(TIME, level as 'info', r), reference(level, r));
      },
    ),
    { numRuns: 2000 },
  );
});

test("the hub writes the same line to stdout and to the tenant's ring, also when stdout's level filters it", () => {
  const lines: string[] = [];
  const hub = new LogHub(new Logger('info', (line) => lines.push(line)));
  hub.request({ ...base, path: '/x"y' });
  assert.equal(lines.length, 1);
  assert.deepEqual(hub.recent('shop'), lines);
  assert.equal(JSON.parse(lines[0]).path, '/x"y');

  const quiet: string[] = [];
  const quietHub = new LogHub(new Logger('error', (line) => quiet.push(line)));
  quietHub.request(base);
  assert.deepEqual(quiet, [], 'an info line reached an error-level stdout');
  assert.equal(JSON.parse(quietHub.recent('shop')[0]).msg, 'request');
});

test('other listeners of the Logger still get the request record', () => {
  const logger = new Logger('info', () => {});
  const hub = new LogHub(logger);
  const seen: Record<string, unknown>[] = [];
  logger.subscribe((record) => seen.push(record));
  hub.request({ ...base, status: 503 });
  assert.equal(seen.length, 1);
  assert.equal(seen[0].source, 'request');
  assert.equal(seen[0].level, 'warn');
  assert.equal(seen[0].status, 503);
  assert.equal(hub.recent('shop').length, 1, 'the hub kept the line once');
});

test('consecutive lines sharing time, level or deployment are each exactly their own record', () => {
  const sequence: [string, 'info' | 'warn', RequestLogLine][] = [
    [TIME, 'info', base],
    [TIME, 'info', { ...base, requestId: 'r-2', path: '/next' }],
    [TIME, 'warn', { ...base, requestId: 'r-3', status: 502 }],
    ['2026-11-22T05:40:00.124Z', 'warn', { ...base, requestId: 'r-4', status: 502 }],
    ['2026-11-22T05:40:00.124Z', 'warn', { ...base, tenant: 'blog', requestId: 'r-5' }],
    ['2026-11-22T05:40:00.124Z', 'warn', { ...base, tenant: 'blog', deployment: 'd-"2"', requestId: 'r-6' }],
    // equal content in other string objects
    ['2026-11-22T05:40:00.124Z', 'warn', { ...base, tenant: ['bl', 'og'].join(''), deployment: 'd-"2"', requestId: 'r-7' }],
    ['2026-11-22T05:40:00.124Z', 'warn', base],
  ];
  for (const [time, level, r] of sequence) {
    const expected = JSON.stringify({
      time, level, msg: 'request', tenant: r.tenant, deployment: r.deployment, requestId: r.requestId, source: 'request',
      method: r.method, path: r.path, status: r.status, cpuMs: roundMs(r.cpuMs), wallMs: roundMs(r.wallMs), cold: r.cold,
    });
    assert.equal(requestLine(time, level, r), expected);
  }
});
