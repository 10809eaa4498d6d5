// What a failed request means and what the client is told: the isolate API's failures are
// classified by the addon's stable error codes (never by message text), every failure by
// tenants/limits.ts, and front/status.ts gives each outcome its status and islet-error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isolateApi, isolateFailure, onReferenceLibrary } from '../../server/host/isolate-api';
import {
  ConcurrencyLimitError,
  DeploymentLoadError,
  LimitExceededError,
  SandboxDisposedError,
  TenantCodeError,
  type LimitName,
} from '../../server/errors';
import { classifyFailure, configuredLimit, type Failure } from '../../server/tenants/limits';
import { asResponseBodyCut, failureAnswer, failureStatus } from '../../server/front/status';
import type { Limits } from '../../server/config';

const onIslet = {
  skip: onReferenceLibrary() && 'the reference library sets no codes: its fixed messages stand in for them',
};

/** the error a real isolate throws for `code` run with `options` */
function failureOf(code: string, options: object, memoryLimit = 16): unknown {
  const isolate = new (isolateApi().Isolate)({ memoryLimit });
  const context = isolate.createContextSync();
  try {
    context.evalSync(code, options);
  } catch (error) {
    return error;
  } finally {
    if (!isolate.isDisposed) isolate.dispose();
  }
  throw new Error(`${code} did not fail`);
}

test("the addon's failures are told apart by their codes: wall time, CPU time, memory, disposal", onIslet, () => {
  const wall = failureOf('for (;;) {}', { timeout: 30 });
  assert.equal((wall as { code?: string }).code, 'ERR_ISOLATE_TIMEOUT');
  assert.equal(isolateFailure(wall), 'wall');
  assert.equal(isolateFailure(failureOf('for (;;) {}', { timeout: 10_000, cpuTimeout: 30 })), 'cpu');
  assert.equal(isolateFailure(failureOf('const keep = []; for (;;) keep.push({ n: keep.length })', {})), 'memory');
  const isolate = new (isolateApi().Isolate)({ memoryLimit: 16 });
  const context = isolate.createContextSync();
  isolate.dispose();
  let disposed: unknown;
  try {
    context.evalSync('1');
  } catch (error) {
    disposed = error;
  }
  assert.equal(isolateFailure(disposed), 'disposed');
  assert.equal(isolateFailure(new SandboxDisposedError()), 'disposed');
});

test('message text alone classifies nothing: a tenant can throw any message it likes', onIslet, () => {
  for (const error of [
    new Error('Script execution timed out.'),
    new RangeError('Array buffer allocation failed'),
    new Error('Isolate was disposed during execution due to memory limit'),
    new Error('Isolate is disposed'),
    Object.assign(new Error('x'), { code: 'ERR_SOMETHING_ELSE' }),
    null,
    undefined,
    'ERR_ISOLATE_TIMEOUT',
  ]) {
    assert.equal(isolateFailure(error), null, String(error));
  }
  // a tenant error whose message imitates the addon's is still the tenant's error
  assert.equal(classifyFailure(new Error('Script execution timed out.')).kind, 'tenant');
});

test('every failure that reaches the front is classified once', () => {
  assert.deepEqual(classifyFailure(new LimitExceededError('cpu', 80, '    at spin (file:///index.js:2:3)')), {
    kind: 'limit',
    limit: 'cpu',
    measured: 80,
    tenantStack: '    at spin (file:///index.js:2:3)',
  });
  assert.deepEqual(classifyFailure(new ConcurrencyLimitError('shop', 4)), {
    kind: 'limit',
    limit: 'concurrency',
    measured: 4,
  });
  assert.deepEqual(classifyFailure(new DeploymentLoadError('ISLET_STARTUP_MEMORY', 'too big', 'stack')), {
    kind: 'limit',
    limit: 'memory',
    tenantStack: 'stack',
  });
  assert.deepEqual(classifyFailure(new DeploymentLoadError('ISLET_STARTUP_TIMEOUT', 'slow', 'stack')), {
    kind: 'startup',
    code: 'ISLET_STARTUP_TIMEOUT',
    message: 'slow',
    tenantStack: 'stack',
  });
  const wall = classifyFailure(
    failureOf('function spin() { for (;;) {} } spin()', { timeout: 30, filename: 'file:///w.js' }),
  );
  assert.equal(wall.kind === 'limit' && wall.limit, 'wall');
  assert.deepEqual(classifyFailure(new SandboxDisposedError('gone')), { kind: 'unavailable', message: 'gone' });
  const thrown = classifyFailure(new TenantCodeError('TypeError: boom', 'at handler'));
  assert.deepEqual(thrown, { kind: 'tenant', message: 'TenantCodeError: TypeError: boom', tenantStack: 'at handler' });
});

test('the front answers each outcome with its status, message and islet-error', () => {
  const limit = (name: LimitName, response?: boolean): Failure => ({ kind: 'limit', limit: name, response });
  const cases: [Failure, number, string | undefined][] = [
    [limit('wall'), 504, 'wall'],
    [limit('cpu'), 503, 'cpu'],
    [limit('memory'), 503, 'memory'],
    [limit('subrequests'), 503, 'subrequests'],
    [limit('logs'), 503, 'logs'],
    [limit('concurrency'), 503, 'concurrency'],
    [limit('body'), 413, 'body'],
    [limit('body', true), 503, 'body'],
    [{ kind: 'startup', code: 'ISLET_STARTUP_FAILED', message: 'x' }, 500, undefined],
    [{ kind: 'tenant', message: 'x' }, 500, undefined],
    [{ kind: 'unavailable', message: 'x' }, 503, undefined],
  ];
  for (const [failure, status, islet] of cases) {
    const answer = failureAnswer(failure);
    assert.equal(failureStatus(failure), status, JSON.stringify(failure));
    assert.equal(answer.status, status);
    assert.equal(answer.limit, islet);
    assert.ok(answer.message.length > 10);
  }
  assert.match(failureAnswer(limit('body', true)).message, /response body/);
  assert.match(failureAnswer(limit('body')).message, /request body/);
});

test('a body cut the request guard did not see is the response going over its limit', () => {
  assert.deepEqual(asResponseBodyCut({ kind: 'limit', limit: 'body', measured: 9 }), {
    kind: 'limit',
    limit: 'body',
    measured: 9,
    response: true,
  });
  const cpu: Failure = { kind: 'limit', limit: 'cpu' };
  assert.equal(asResponseBodyCut(cpu), cpu);
});

test("a cut's log line names the configured value of its limit", () => {
  const limits: Limits = {
    cpuMs: 1,
    wallMs: 2,
    memoryMb: 3,
    requestBodyBytes: 4,
    responseBodyBytes: 5,
    subrequests: 6,
    subrequestTimeoutMs: 7,
    subrequestResponseBytes: 8,
    logBytes: 9,
    concurrency: 10,
    startupCpuMs: 11,
  };
  const names: LimitName[] = ['cpu', 'wall', 'memory', 'body', 'subrequests', 'logs', 'concurrency'];
  assert.deepEqual(
    names.map((n) => configuredLimit(limits, n)),
    [1, 2, 3, 4, 6, 9, 10],
  );
});
