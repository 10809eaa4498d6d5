// WebSockets under the supervisor (`islet serve --workers 1`, a real process tree): the upgrade
// request reaches its worker through the supervisor's socket hand-off like any other request;
// SIGHUP replaces the worker and closes its WebSockets 1012 (service restart: reconnect) once its
// requests drained, and a reconnect reaches the new worker; SIGTERM closes them 1001.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from './websocket-client';

const repoRoot = path.resolve(__dirname, '../../..');

const echo = `
const started = Date.now() + '-' + Math.random();
export default {
  fetch(request) {
    if (request.headers.get('upgrade') !== 'websocket') return new Response('echo');
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.addEventListener('message', (event) => server.send(started + ' ' + event.data));
    return new Response(null, { status: 101, webSocket: client });
  },
};
`;

let child: ChildProcess | undefined;
after(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
});

test('through the supervisor: upgrade, SIGHUP closes 1012 and a reconnect reaches the new worker, SIGTERM closes 1001', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-ws-cluster-'));
  fs.mkdirSync(path.join(dir, 'functions', 'echo'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'functions', 'echo', 'index.js'), echo);
  child = spawn(
    process.execPath,
    [
      '--no-node-snapshot',
      path.join(repoRoot, 'bin', 'islet.js'),
      'serve',
      '--workers',
      '1',
      '--functions',
      path.join(dir, 'functions'),
    ],
    {
      env: {
        ...process.env,
        ISLET_PORT: '0',
        ISLET_HOST: '127.0.0.1',
        ISLET_ADMIN_PORT: '0',
        ISLET_DATA_DIR: path.join(dir, 'data'),
        ISLET_ADMIN_TOKEN: 'ws-cluster-token',
        ISLET_LOG_REQUESTS: 'false',
        ISLET_SHUTDOWN_TIMEOUT_MS: '3000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));
  try {
    const port = await waitFor('the tenant port', () => {
      if (child!.exitCode !== null) throw new Error(`islet exited early:\n${output}`);
      const m = /tenant traffic on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      return m ? Number(m[1]) : undefined;
    });

    const first = await open(port, 'echo.localhost', '/');
    first.send('one');
    const [firstWorker] = String(await first.message(0)).split(' ');
    assert.equal(await first.message(0), `${firstWorker} one`);

    child.kill('SIGHUP');
    assert.equal((await first.closing(30_000)).code, 1012, output);
    const second = await waitFor('a connection to the new worker', async () => {
      try {
        return await open(port, 'echo.localhost', '/');
      } catch {
        return undefined;
      }
    });
    second.send('two');
    const [secondWorker, text] = String(await second.message(0)).split(' ');
    assert.equal(text, 'two');
    assert.notEqual(secondWorker, firstWorker, 'the reconnect reached a fresh isolate in the new worker');

    child.kill('SIGTERM');
    assert.equal((await second.closing(30_000)).code, 1001, output);
    assert.equal(await exited, 0, output);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
