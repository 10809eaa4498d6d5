// `islet dev --inspect` with a DevTools protocol client (the `ws` package speaking CDP, as Chrome
// DevTools does): the discovery endpoints answer, the built module is announced with its source
// map (so the breakpoint is set in the uploaded TypeScript, mapped as DevTools maps it), a request
// stops at the breakpoint, a local variable is read on the paused frame, console output reaches the
// client, and after resume the request completes. islet dev runs in a child process: a pause stops
// its whole main thread, as a real debugging session does. `islet serve --inspect` is refused.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SourceMapConsumer } from 'source-map-js';
import { request } from 'undici';
import WebSocket from 'ws';
import { eventually, repoRoot } from './islet';

const source = `interface Order { price: number; quantity: number }

export default {
  async fetch(request: Request): Promise<Response> {
    const order: Order = { price: 7, quantity: Number(new URL(request.url).searchParams.get('n') ?? 1) };
    const total: number = order.price * order.quantity;
    console.log('total is', total);
    return new Response(String(total));
  },
};
`;
const TOTAL_LINE = 7; // console.log('total is', total): \`total\` is set when it stops here

type Message = { id?: number; method?: string; params?: any; result?: any; error?: any };

function cdp(ws: WebSocket) {
  let id = 0;
  const pending = new Map<number, (m: Message) => void>();
  const events: Message[] = [];
  const waiters: { method: string; pred: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  ws.on('message', (raw) => {
    const m = JSON.parse(raw.toString()) as Message;
    if (m.id !== undefined) {
      pending.get(m.id)?.(m);
      pending.delete(m.id);
      return;
    }
    events.push(m);
    for (const w of [...waiters])
      if (w.method === m.method && w.pred(m)) waiters.splice(waiters.indexOf(w), 1), w.resolve(m);
  });
  return {
    events,
    call(method: string, params?: object): Promise<Message> {
      const callId = ++id;
      ws.send(JSON.stringify({ id: callId, method, params }));
      return new Promise((resolve) => pending.set(callId, resolve));
    },
    next(method: string, pred: (m: Message) => boolean = () => true, ms = 20_000): Promise<Message> {
      const seen = events.find((m) => m.method === method && pred(m));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${method} within ${ms} ms`)), ms);
        waiters.push({ method, pred, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      });
    },
  };
}

test('islet dev --inspect: a CDP client stops at a breakpoint in the TypeScript, reads a local, resumes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-dev-inspect-'));
  fs.writeFileSync(path.join(dir, 'index.ts'), source);
  const child = spawn(
    process.execPath,
    [path.join(repoRoot, 'bin', 'islet.js'), 'dev', dir, '--port', '0', '--inspect=0', '--no-watch'],
    { env: { ...process.env, ISLET_ADMIN_PORT: '0', ISLET_ADMIN_TOKEN: '' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let ws: WebSocket | undefined;
  try {
    const wsUrl = await eventually(
      async () => /debugger: (ws:\/\/127\.0\.0\.1:\d+\/islet-dev)/.exec(stderr)?.[1],
      60_000,
      `the debugger line:\n${stderr}`,
    );
    const inspectPort = Number(/:(\d+)\//.exec(wsUrl)![1]);
    const tenantPort = Number(/on http:\/\/localhost:(\d+)\//.exec(stderr)![1]);

    const version = (await (await request(`http://127.0.0.1:${inspectPort}/json/version`)).body.json()) as Record<
      string,
      string
    >;
    assert.equal(version['Protocol-Version'], '1.3');
    const list = (await (await request(`http://127.0.0.1:${inspectPort}/json/list`)).body.json()) as Record<
      string,
      string
    >[];
    assert.equal(list.length, 1);
    assert.equal(list[0]!.webSocketDebuggerUrl, wsUrl);
    assert.match(
      list[0]!.devtoolsFrontendUrl!,
      /^devtools:\/\/devtools\/bundled\/js_app\.html\?.*ws=127\.0\.0\.1:\d+\/islet-dev$/,
    );
    const foreign = await request(`http://127.0.0.1:${inspectPort}/json/list`, { headers: { host: 'evil.example' } });
    assert.equal(foreign.statusCode, 403, 'a rebinding attack is refused');
    await foreign.body.dump();

    ws = new WebSocket(wsUrl);
    await new Promise((resolve, reject) => ws!.once('open', resolve).once('error', reject));
    const devtools = cdp(ws);
    await devtools.call('Runtime.enable');
    await devtools.call('Debugger.enable');
    const parsed = await devtools.next('Debugger.scriptParsed', (m) =>
      String(m.params.sourceMapURL ?? '').startsWith('data:'),
    );
    const mapJson = Buffer.from(parsed.params.sourceMapURL.split(',')[1], 'base64').toString('utf8');
    const map = new SourceMapConsumer(JSON.parse(mapJson));
    const tsSource = map.sources.find((s) => s.endsWith('index.ts'))!;
    assert.ok(tsSource, `the map names index.ts: ${map.sources}`);
    assert.match(
      map.sourceContentFor(tsSource) ?? '',
      /order\.price \* order\.quantity/,
      'sources travel with the map',
    );
    // what DevTools does for a breakpoint in index.ts: the generated position through the map
    const generated = map.generatedPositionFor({ source: tsSource, line: TOTAL_LINE, column: 4 });
    assert.ok(generated.line, 'index.ts line 7 is mapped');
    const bp = await devtools.call('Debugger.setBreakpointByUrl', {
      url: parsed.params.url,
      lineNumber: generated.line - 1,
      columnNumber: generated.column,
    });
    assert.ok(bp.result?.breakpointId, JSON.stringify(bp));

    const answer = request(`http://127.0.0.1:${tenantPort}/?n=6`);
    const paused = await devtools.next('Debugger.paused');
    const frame = paused.params.callFrames[0];
    const at = map.originalPositionFor({ line: frame.location.lineNumber + 1, column: frame.location.columnNumber });
    assert.equal(at.line, TOTAL_LINE, 'stopped at the TypeScript line of the breakpoint');
    const local = await devtools.call('Debugger.evaluateOnCallFrame', {
      callFrameId: frame.callFrameId,
      expression: 'total',
    });
    assert.equal(local.result.result.value, 42, JSON.stringify(local));
    await devtools.call('Debugger.resume');
    const res = await answer;
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), '42');
    const logged = await devtools.next('Runtime.consoleAPICalled');
    assert.equal(logged.params.type, 'log');
    assert.equal(logged.params.args[0].value, 'total is 42');
    // stepping: the next request stops again; a step moves to the next line
    const again = request(`http://127.0.0.1:${tenantPort}/?n=2`);
    const second = await devtools.next('Debugger.paused', (m) => m !== paused);
    await devtools.call('Debugger.stepOver');
    const stepped = await devtools.next('Debugger.paused', (m) => m !== paused && m !== second);
    const steppedAt = map.originalPositionFor({
      line: stepped.params.callFrames[0].location.lineNumber + 1,
      column: stepped.params.callFrames[0].location.columnNumber,
    });
    assert.equal(steppedAt.line, TOTAL_LINE + 1, 'stepped to the return line');
    await devtools.call('Debugger.removeBreakpoint', { breakpointId: bp.result.breakpointId });
    await devtools.call('Debugger.resume');
    assert.equal(await (await again).body.text(), '14');
  } finally {
    ws?.close();
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('islet serve --inspect is refused', () => {
  const result = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'islet.js'), 'serve', '--inspect'], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, ISLET_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'islet-serve-inspect-')) },
  });
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /--inspect is refused.*islet dev <dir> --inspect/s);
});
