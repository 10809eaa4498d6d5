// The front's protections against one client (issue 16 finding 9): the per-client connection cap
// (front/connection-cap.ts), with real sockets on 127.0.0.1, and the rate-limited log lines a
// client can cause (front/log-budget.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ConnectionCap, clientKey } from '../../server/front/connection-cap';
import { LogBudget } from '../../server/front/log-budget';
import { Logger } from '../../server/observe/server-log';

test('clients are counted by IPv4 address, an IPv4-mapped IPv6 address as its IPv4, IPv6 by its /64', () => {
  assert.equal(clientKey('10.1.2.3'), '10.1.2.3');
  assert.equal(clientKey('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:0db8:0001:0002::9'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(clientKey('::1'), '0:0:0:0::/64');
  assert.notEqual(clientKey('2001:db8:1:3::1'), clientKey('2001:db8:1:2::1'));
  assert.equal(clientKey(undefined), '');
});

test('past the cap a client connection is closed at once and counted; a closed one frees its place', async () => {
  let refused = 0;
  const cap = new ConnectionCap(3, () => refused++);
  const server = net.createServer((socket) => {
    if (cap.admit(socket)) socket.write('hi');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  // each client socket: 'open' when the server greeted it, 'closed' when it was closed unread
  const connect = () =>
    new Promise<{ socket: net.Socket; fate: 'open' | 'closed' }>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.on('error', () => {});
      socket.once('data', () => resolve({ socket, fate: 'open' }));
      socket.once('close', () => resolve({ socket, fate: 'closed' }));
    });
  try {
    const first = [];
    for (let i = 0; i < 5; i++) first.push(await connect());
    assert.deepEqual(
      first.map((c) => c.fate),
      ['open', 'open', 'open', 'closed', 'closed'],
    );
    assert.equal(refused, 2);
    assert.equal(cap.openFrom('127.0.0.1'), 3);
    first[0]!.socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(cap.openFrom('127.0.0.1'), 2);
    const again = await connect();
    assert.equal(again.fate, 'open', 'a place freed by a close is taken again');
    for (const c of [...first, again]) c.socket.destroy();
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  // release(): a socket handed elsewhere stops counting at once, and only once
  const handed = new ConnectionCap(1);
  const one = new net.Socket();
  assert.equal(handed.admit(one), true);
  assert.equal(handed.admit(new net.Socket()), false);
  handed.release(one);
  handed.release(one);
  assert.equal(handed.openFrom(''), 0);
  one.destroy();
  // 0: no cap
  const open = new ConnectionCap(0);
  assert.equal(open.admit(new net.Socket()), true);
});

test('log lines a client causes: a few per window per kind, then one line saying how many were held back', async () => {
  const lines: Record<string, unknown>[] = [];
  const logger = new Logger('debug', (line) => lines.push(JSON.parse(line)));
  const budget = new LogBudget(logger, { perWindow: 3, windowMs: 200 });
  for (let i = 0; i < 50; i++) budget.log('debug', 'bad-target', 'request refused', { i });
  for (let i = 0; i < 2; i++) budget.log('error', 'store-read', 'store failed', { i });
  assert.deepEqual(
    lines.map((l) => [l.msg, l.level]),
    [
      ['request refused', 'debug'],
      ['request refused', 'debug'],
      ['request refused', 'debug'],
      ['store failed', 'error'],
      ['store failed', 'error'],
    ],
  );
  await new Promise((r) => setTimeout(r, 250));
  budget.log('debug', 'bad-target', 'request refused', { i: 50 });
  assert.equal(lines.length, 6);
  assert.equal(lines[5]!.suppressedBefore, 47, 'the next window says how many lines were held back');
});
