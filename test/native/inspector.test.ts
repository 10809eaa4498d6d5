// The inspector (issue 14 item 9, issue 22 "DevTools debugging"): new Isolate({ inspector: true }),
// createContext({ inspector: true }), isolate.createInspectorSession() speaking the Chrome
// DevTools protocol, including pauses at breakpoints on the pool and on Node's own thread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ivm, isletOnly } from './support';

type Message = { id?: number; method?: string; params?: any; result?: any; error?: any };

// A small protocol client: post() resolves with the response, next() with the next notification.
function client(session: ivm.InspectorSession) {
  let id = 0;
  const pending = new Map<number, (message: Message) => void>();
  const listeners: ((message: Message) => void)[] = [];
  const notifications: Message[] = [];
  session.onResponse = (callId, text) => {
    const resolve = pending.get(callId);
    pending.delete(callId);
    resolve?.(JSON.parse(text));
  };
  session.onNotification = (text) => {
    const message = JSON.parse(text) as Message;
    notifications.push(message);
    for (const listener of [...listeners]) listener(message);
  };
  return {
    notifications,
    listeners,
    send(method: string, params?: object, then?: (message: Message) => void): number {
      const callId = ++id;
      if (then) pending.set(callId, then);
      session.dispatchProtocolMessage(JSON.stringify({ id: callId, method, params }));
      return callId;
    },
    post(method: string, params?: object): Promise<Message> {
      return new Promise((resolve) => this.send(method, params, resolve));
    },
    next(method: string): Promise<Message> {
      return new Promise((resolve) => {
        const listener = (message: Message) => {
          if (message.method !== method) return;
          listeners.splice(listeners.indexOf(listener), 1);
          resolve(message);
        };
        listeners.push(listener);
      });
    },
  };
}

const PROGRAM = 'function f(x) {\n  const secret = x * 2;\n  return secret + 1;\n}\nf(20)';

// Lets a pool thread finish with the isolate before it is disposed: disposing while a pool thread
// is about to take the isolate is issue 14 item 3, fixed on the native-crash branch.
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

test('off unless asked: no session or inspected context without { inspector: true }', isletOnly, () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32 });
  try {
    assert.throws(
      () => isolate.createInspectorSession(),
      /needs an isolate made with new Isolate\(\{ inspector: true \}\)/,
    );
    assert.throws(
      () => isolate.createContextSync({ inspector: true }),
      /needs an isolate made with new Isolate\(\{ inspector: true \}\)/,
    );
    assert.throws(() => new ivm.Isolate({ inspector: 'yes' as never }), /`inspector` must be a boolean/);
  } finally {
    isolate.dispose();
  }
});

test('a breakpoint on the pool: paused, a local read with evaluateOnCallFrame, resumed', async () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32, inspector: true });
  const context = await isolate.createContext({ inspector: true });
  const session = isolate.createInspectorSession();
  const devtools = client(session);
  try {
    const created = devtools.next('Runtime.executionContextCreated');
    await devtools.post('Runtime.enable');
    assert.equal((await created).params.context.auxData.isDefault, true);
    await devtools.post('Debugger.enable');
    const breakpoint = await devtools.post('Debugger.setBreakpointByUrl', { url: 'file:///app.js', lineNumber: 2 });
    assert.ok(breakpoint.result.breakpointId);
    const paused = devtools.next('Debugger.paused');
    const run = context.eval(PROGRAM, { filename: 'file:///app.js' });
    const { params } = await paused;
    const frame = params.callFrames[0];
    assert.equal(frame.functionName, 'f');
    assert.equal(frame.location.lineNumber, 2);
    const script = devtools.notifications.find(
      (message) => message.method === 'Debugger.scriptParsed' && message.params.scriptId === frame.location.scriptId,
    );
    assert.equal(script?.params.url, 'file:///app.js');
    const local = await devtools.post('Debugger.evaluateOnCallFrame', {
      callFrameId: frame.callFrameId,
      expression: 'secret',
    });
    assert.deepEqual(local.result.result, { type: 'number', value: 40, description: '40' });
    const scope = frame.scopeChain.find((item: { type: string }) => item.type === 'local');
    const properties = await devtools.post('Runtime.getProperties', { objectId: scope.object.objectId });
    assert.deepEqual(
      properties.result.result.map((p: { name: string; value: { value: unknown } }) => [p.name, p.value.value]),
      [
        ['x', 20],
        ['secret', 40],
      ],
    );
    const resumed = devtools.next('Debugger.resumed');
    await devtools.post('Debugger.resume');
    await resumed;
    assert.equal(await run, 41);
  } finally {
    session.dispose();
    await settle();
    isolate.dispose();
  }
});

test("paused on Node's own thread (evalSync): the callbacks answer from inside the pause", isletOnly, async () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32, inspector: true });
  const context = isolate.createContextSync({ inspector: true });
  const session = isolate.createInspectorSession();
  const devtools = client(session);
  try {
    let seen: unknown;
    devtools.listeners.push((message) => {
      if (message.method !== 'Debugger.paused') return;
      const frame = message.params.callFrames[0];
      devtools.send(
        'Debugger.evaluateOnCallFrame',
        { callFrameId: frame.callFrameId, expression: 'secret * 10' },
        (reply) => {
          seen = reply.result.result.value;
          devtools.send('Debugger.resume');
        },
      );
    });
    devtools.send('Debugger.enable');
    const result = context.evalSync(
      'function g(x) {\n  const secret = x + 1;\n  debugger;\n  return secret;\n}\ng(6)',
      { filename: 'file:///sync.js' },
    );
    assert.equal(result, 7);
    assert.equal(seen, 70, "the local was read while Node's thread was paused");
    // V8 announces the resume after the pause loop returns: it arrives through Node's loop.
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(devtools.notifications.some((message) => message.method === 'Debugger.resumed'));
  } finally {
    session.dispose();
    await settle();
    isolate.dispose();
  }
});

test("a pause on Node's thread that no session answers is resumed instead of hanging", isletOnly, async () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32, inspector: true });
  const context = isolate.createContextSync({ inspector: true });
  const session = isolate.createInspectorSession();
  const devtools = client(session);
  try {
    devtools.send('Debugger.enable');
    assert.equal(context.evalSync('(function () { debugger; return "went on"; })()'), 'went on');
    assert.ok(
      devtools.notifications.some((message) => message.method === 'Debugger.paused'),
      'it did pause',
    );
  } finally {
    session.dispose();
    await settle();
    isolate.dispose();
  }
});

test('console calls and Runtime.evaluate reach the session; exceptions are reported', isletOnly, async () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32, inspector: true });
  const context = await isolate.createContext({ inspector: true });
  const session = isolate.createInspectorSession();
  const devtools = client(session);
  try {
    await devtools.post('Runtime.enable');
    const logged = devtools.next('Runtime.consoleAPICalled');
    await context.eval('console.log("from the isolate", 42)');
    const { params } = await logged;
    assert.equal(params.type, 'log');
    assert.deepEqual(
      params.args.map((arg: { value: unknown }) => arg.value),
      ['from the isolate', 42],
    );
    const evaluated = await devtools.post('Runtime.evaluate', { expression: '6 * 7' });
    assert.equal(evaluated.result.result.value, 42);
    const thrown = await devtools.post('Runtime.evaluate', { expression: 'null.x' });
    assert.match(thrown.result.exceptionDetails.exception.description, /TypeError/);
    const unknown = await devtools.post('No.suchMethod');
    assert.equal(unknown.error.code, -32601);
  } finally {
    session.dispose();
    await settle();
    isolate.dispose();
  }
});

test('disposing the session resumes a paused isolate; disposing the isolate ends a paused run', isletOnly, async () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32, inspector: true });
  const context = await isolate.createContext({ inspector: true });
  const first = isolate.createInspectorSession();
  const devtools = client(first);
  await devtools.post('Debugger.enable');
  let paused = devtools.next('Debugger.paused');
  const run = context.eval('(function () { debugger; return "resumed"; })()');
  await paused;
  first.dispose();
  assert.equal(await run, 'resumed', 'the last session going away resumes the isolate');
  assert.throws(() => first.dispatchProtocolMessage('{"id":1,"method":"Runtime.enable"}'), /session is disposed/);

  const second = client(isolate.createInspectorSession());
  await second.post('Debugger.enable');
  paused = second.next('Debugger.paused');
  const stuck = context.eval('(function () { debugger; return "never"; })()');
  await paused;
  isolate.dispose();
  await assert.rejects(stuck, /disposed/);
  await settle();
});

test('a paused run still ends at its time limit (a pause cannot hold a pool thread forever)', isletOnly, async () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32, inspector: true });
  const context = await isolate.createContext({ inspector: true });
  const session = isolate.createInspectorSession();
  const devtools = client(session);
  try {
    await devtools.post('Debugger.enable');
    const paused = devtools.next('Debugger.paused');
    const run = context.eval('debugger; "never resumed"', { timeout: 200 });
    await paused;
    await assert.rejects(run, { code: 'ERR_ISOLATE_TIMEOUT', message: 'Script execution timed out.' });
    assert.equal(await context.eval('"usable afterwards"'), 'usable afterwards');
  } finally {
    session.dispose();
    await settle();
    isolate.dispose();
  }
});
