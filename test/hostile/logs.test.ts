// Hostile tenants against the log paths (issue 16, items 3 and 9), with the neighbour served
// throughout:
//
// | case                                               | what the attacker gets                               |
// |----------------------------------------------------|------------------------------------------------------|
// | console output with ESC/OSC/BEL/CR/C1/bidi, forged | `islet logs`/`tail`/`dev` print it escaped (\e, \r,  |
// |   "ERROR" lines                                    |   \x9b...): no control byte reaches the terminal, no |
// |                                                    |   line of its own                                    |
// | six `follow=1` streams never read, 40 MB of logs   | the worker's memory grows by at most the followers'  |
// |                                                    |   byte backlogs and the ring, not by what was logged |
// | more follow streams than a token may hold          | 429 TOO_MANY_FOLLOWERS                               |
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { formatRecord } from '../../server/cli/dev';
import { attacker, type Islet, neighbourCode, repoRoot, startIslet, whileNeighbourServed } from './islet';

let islet: Islet;

before(async () => {
  islet = await startIslet((config) => {
    config.logRequests = true;
    // a small ring, so the memory bound below is sharp
    config.logs.tenantBytes = 1 << 20;
  });
  await islet.deployReady('neighbour', neighbourCode);
});
after(() => islet?.close());

/** every byte a terminal acts on but TAB and LF */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

function islet_(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'islet.js'), ...args], {
      env: {
        ...process.env,
        ISLET_ADMIN_URL: `http://127.0.0.1:${islet.serving.adminPort}`,
        ISLET_ADMIN_TOKEN: islet.serving.operatorToken,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('tenant output cannot drive the operator terminal: islet logs, tail and dev print it escaped', async () => {
  const payload =
    '"\\x1b[2J\\x1b[H\\x1b]0;owned\\x07hello\\r2026-01-01T00:00:00.000Z ERROR [forged] admin password reset\\n' +
    'ERROR fake line\\b\\b\\u009b31m\\u202eevil\\u2028next"';
  await islet.deployReady(
    'termy',
    attacker(`console.log(${payload}); console.error(new Error(${payload})); return new Response('ok');`),
  );
  const res = await whileNeighbourServed(islet, () => islet.hit('termy', '/%1B]0;path-title%07'));
  assert.equal(res.status, 200);

  const logs = await islet_(['logs', 'termy', '-n', '50']);
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, /\\e\[2J\\e\[H\\e\]0;owned\\ahello\\r2026/, 'the sequences are shown, escaped');
  assert.doesNotMatch(logs.stdout, CONTROL, 'no control character reaches the terminal');
  // every printed line is a record (it starts with its time) or an indented continuation
  for (const line of logs.stdout.trimEnd().split('\n')) {
    assert.match(
      line,
      /^(\d{4}-\d\d-\d\dT[\d:.]+Z |\s{4})/,
      `a line the tenant could have forged: ${JSON.stringify(line)}`,
    );
    assert.doesNotMatch(line, /^ERROR/);
  }
  const json = await islet_(['logs', 'termy', '--json']);
  assert.doesNotMatch(json.stdout, CONTROL, '--json output is escaped JSON');

  // islet dev prints the same records through its own formatter
  for (const record of islet.logs.filter((r) => r.tenant === 'termy' && r.source !== undefined)) {
    const text = formatRecord(record, false) ?? '';
    assert.doesNotMatch(text, CONTROL, `islet dev line: ${JSON.stringify(text)}`);
    for (const line of text.split('\n').slice(1)) assert.match(line, /^\s/, 'continuation lines are indented');
  }
});

function gc(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

/** an HTTP request for a follow stream on a socket that is then never read */
function stuckFollower(tenant: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(islet.serving.adminPort, '127.0.0.1', () => {
      socket.write(
        `GET /v1/tenants/${tenant}/logs?follow=1&limit=0 HTTP/1.1\r\nHost: admin\r\n` +
          `Authorization: Bearer ${islet.serving.operatorToken}\r\n\r\n`,
      );
      // read the status line, then stop reading for good
      socket.once('data', (chunk) => {
        socket.pause();
        if (/^HTTP\/1\.1 200/.test(chunk.toString('latin1'))) resolve(socket);
        else reject(new Error(`follow refused: ${chunk.toString('latin1').split('\r\n')[0]}`));
      });
    });
    socket.on('error', reject);
  });
}

test('six follow streams that are never read hold at most their byte backlogs, whatever the tenant logs', async (t) => {
  // each request logs 4 x 16 KiB, the per-request log budget
  await islet.deployReady(
    'flood',
    attacker(
      `const line = 'x'.repeat(16_000); for (let i = 0; i < 4; i++) console.log(i + line); return new Response('ok');`,
    ),
    { memoryMb: 16 },
  );
  gc();
  const before = process.memoryUsage.rss();
  const followers = await Promise.all(Array.from({ length: 6 }, () => stuckFollower('flood')));
  let peak = before;
  try {
    await whileNeighbourServed(islet, async () => {
      // 640 requests: 40 MB of log lines, 240 MB if every follower kept all of it
      for (let round = 0; round < 64; round++) {
        const replies = await Promise.all(Array.from({ length: 10 }, () => islet.hit('flood', '/')));
        for (const r of replies) assert.equal(r.status, 200);
        if (round % 8 === 7) {
          // the harness keeps every server log record for other tests to read: not the server's memory
          islet.logs.length = 0;
          gc();
          peak = Math.max(peak, process.memoryUsage.rss());
        }
      }
    });
  } finally {
    for (const socket of followers) socket.destroy();
  }
  const grown = (peak - before) / 2 ** 20;
  t.diagnostic(`RSS grew ${grown.toFixed(1)} MiB (before ${(before / 2 ** 20).toFixed(0)} MiB)`);
  // six 1 MiB backlogs, a 1 MiB ring, what is in flight (measured: ~40 MiB); before the bounds, 6 x 1000
  // lines of 16 KiB: 110 MiB
  assert.ok(grown < 70, `the process grew by ${grown.toFixed(1)} MiB with six stuck followers`);
});

test('a token holds at most eight follow streams at once: the ninth is refused with 429', async () => {
  const held = await Promise.all(Array.from({ length: 8 }, () => stuckFollower('neighbour')));
  try {
    const res = await islet.admin('GET', '/v1/tenants/neighbour/logs?follow=1&limit=0');
    assert.equal(res.status, 429);
    assert.equal(JSON.parse(res.text).error.code, 'TOO_MANY_FOLLOWERS');
    assert.ok(res.headers['retry-after']);
  } finally {
    for (const socket of held) socket.destroy();
  }
  // closed streams give their places back
  const deadline = Date.now() + 5000;
  for (;;) {
    const socket = await stuckFollower('neighbour').catch(() => null);
    if (socket) {
      socket.destroy();
      break;
    }
    assert.ok(Date.now() < deadline, 'the closed streams were released');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});
