// The rules of crash containment, without killing a process: what a worker's journal holds after
// it died (written through a real shared mapping, read back as the supervisor reads it), whom a
// death is blamed on, what becomes of each connection, when a tenant is quarantined, and what
// the supervisor keeps of a worker's stderr.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { mapSharedFile } from '../../native';
import { createJournal, readJournal, type JournalSnapshot } from '../../server/cluster/journal';
import { connectionId, openJournal } from '../../server/cluster/journal-writer';
import { QuarantineBook } from '../../server/cluster/quarantine';
import { analyzeDeath, connectionFate, type HeldConnection } from '../../server/cluster/worker-death';
import { WorkerStderr } from '../../server/cluster/worker-stderr';

function fakeRequest(connection: number, method: string, url: string, headers: [string, string][]): IncomingMessage {
  const rawHeaders = headers.flat();
  const lower = Object.fromEntries(headers.map(([k, v]) => [k.toLowerCase(), v]));
  return {
    method,
    url,
    httpVersion: '1.1',
    rawHeaders,
    headers: lower,
    socket: { [connectionId]: connection },
  } as unknown as IncomingMessage;
}

test('the journal holds what a dead worker had in flight, the tenant it was running, and which connections it read', () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-journal-'));
  try {
    const file = createJournal(folder, 'w1');
    const journal = openJournal(file, mapSharedFile);
    // a GET waiting in its handler, a POST (never replayable), one answered already, one finished
    const getRequest = fakeRequest(7, 'GET', '/a?b=1', [
      ['Host', 'shop.localhost'],
      ['X-Trace', 'é'],
    ]);
    const get = journal.begin(getRequest);
    journal.tenant(get, 'shop');
    journal.cold(get);
    journal.park(get, getRequest);
    const postRequest = fakeRequest(8, 'POST', '/upload', [
      ['Host', 'shop.localhost'],
      ['Content-Length', '5'],
    ]);
    const post = journal.begin(postRequest);
    journal.tenant(post, 'shop');
    journal.park(post, postRequest);
    const answered = journal.begin(fakeRequest(9, 'GET', '/', [['Host', 'blog.localhost']]));
    journal.tenant(answered, 'blog');
    journal.answering(answered);
    const done = journal.begin(fakeRequest(10, 'GET', '/', [['Host', 'blog.localhost']]));
    journal.end(done);
    journal.entering('blog');

    const snapshot = readJournal(file)!;
    assert.equal(snapshot.running, 'blog');
    const byConnection = new Map(snapshot.requests.map((r) => [r.connection, r]));
    assert.deepEqual([...byConnection.keys()].sort(), [7, 8, 9]);
    assert.equal(byConnection.get(7)!.tenant, 'shop');
    assert.equal(byConnection.get(7)!.cold, true);
    assert.equal(
      byConnection.get(7)!.head!.toString('latin1'),
      'GET /a?b=1 HTTP/1.1\r\nHost: shop.localhost\r\nX-Trace: é\r\n\r\n',
    );
    assert.equal(byConnection.get(8)!.head, null, 'a request with a body is never replayable');
    assert.equal(byConnection.get(9)!.answering, true);
    for (const id of [7, 8, 9, 10]) assert.equal(snapshot.began(id), true);
    assert.equal(snapshot.began(11), false, 'a connection the worker never read from');

    journal.left();
    assert.equal(readJournal(file)!.running, null);
    // a file that is not a journal is not read as one
    fs.writeFileSync(path.join(folder, 'other'), Buffer.alloc(8));
    assert.equal(readJournal(path.join(folder, 'other')), null);
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
});

function snapshotOf(partial: Partial<JournalSnapshot>): JournalSnapshot {
  return { running: null, requests: [], began: () => true, ...partial };
}

const request = (tenant: string, extra: Partial<JournalSnapshot['requests'][number]> = {}) => ({
  connection: 1,
  tenant,
  answering: false,
  cold: false,
  head: Buffer.from('GET / HTTP/1.1\r\n\r\n'),
  ...extra,
});

test('a death is blamed on the addon-named tenant, else the running one, else the one starting, else the only one', () => {
  const base = { code: null, signal: 'SIGABRT', stderrTail: '', fatalLine: 'FATAL ERROR: heap out of memory' };
  const two = [request('a'), request('b', { connection: 2 })];
  assert.deepEqual(analyzeDeath({ ...base, snapshot: snapshotOf({ running: 'a', requests: two }) }), {
    cause: 'signal SIGABRT: FATAL ERROR: heap out of memory',
    culprit: 'a',
    blamedBy: 'running',
    inFlight: { a: 1, b: 1 },
  });
  const named = analyzeDeath({
    ...base,
    stderrTail:
      'noise\nislet: isolate "tenant:b" made no progress for 1004 ms after reaching its heap limit (128 MB, heap 130 MB)' +
      ': ending the process\n',
    snapshot: snapshotOf({ running: 'a', requests: two }),
  });
  assert.equal(named.culprit, 'b');
  assert.equal(named.blamedBy, 'addon');
  const starting = analyzeDeath({
    ...base,
    snapshot: snapshotOf({ requests: [request('a'), request('b', { cold: true })] }),
  });
  assert.equal(starting.culprit, 'b');
  assert.equal(
    analyzeDeath({ ...base, snapshot: snapshotOf({ requests: [request('a'), request('a')] }) }).culprit,
    'a',
  );
  // several tenants in flight and nothing running: a neighbour is never charged
  const unknown = analyzeDeath({
    ...base,
    code: 1,
    signal: null,
    fatalLine: null,
    snapshot: snapshotOf({ requests: two }),
  });
  assert.equal(unknown.culprit, null);
  assert.equal(unknown.cause, 'exit code 1');
});

test("a dead worker's connections: idle ones move, unread ones replay their first request, one idempotent request is replayed once", () => {
  const held: HeldConnection = {
    id: 1,
    firstHead: Buffer.from('POST /x HTTP/1.1\r\n\r\nbody'),
    hostTenant: 'shop',
    replays: 0,
  };
  const refuseNone = () => false;
  const idle = connectionFate(held, snapshotOf({}), [], refuseNone);
  assert.deepEqual(idle, { kind: 'move', head: Buffer.alloc(0), replay: 'none' });
  const unread = connectionFate(held, snapshotOf({ began: () => false }), [], refuseNone);
  assert.equal(unread.kind, 'move');
  assert.equal(unread.kind === 'move' && unread.replay, 'first request');
  assert.equal(unread.kind === 'move' && unread.head.toString(), 'POST /x HTTP/1.1\r\n\r\nbody');
  const replay = connectionFate(held, snapshotOf({}), [request('shop')], refuseNone);
  assert.equal(replay.kind === 'move' && replay.replay, 'in flight');
  assert.equal(
    connectionFate({ ...held, replays: 1 }, snapshotOf({}), [request('shop')], refuseNone).kind,
    'bad gateway',
  );
  assert.equal(connectionFate(held, snapshotOf({}), [request('shop', { head: null })], refuseNone).kind, 'bad gateway');
  assert.equal(connectionFate(held, snapshotOf({}), [request('shop', { answering: true })], refuseNone).kind, 'close');
  const culprit = (tenant: string) => tenant === 'shop';
  assert.equal(connectionFate(held, snapshotOf({}), [request('shop')], culprit).kind, 'bad gateway');
  assert.equal(connectionFate(held, snapshotOf({ began: () => false }), [], culprit).kind, 'bad gateway');
  assert.equal(connectionFate(held, null, [], refuseNone).kind, 'bad gateway', 'no journal: as before, 502');
  // a WebSocket's connection is no longer HTTP: closed, never moved (nor replayed)
  assert.equal(connectionFate({ ...held, upgraded: true }, snapshotOf({}), [], refuseNone).kind, 'close');
  assert.equal(
    connectionFate({ ...held, upgraded: true }, snapshotOf({ began: () => false }), [], refuseNone).kind,
    'close',
  );
});

test('a tenant is quarantined at the threshold within the window, for the cool-down, and can be lifted', () => {
  const book = new QuarantineBook({ deaths: 2, windowMs: 10_000, cooldownMs: 60_000 });
  const t0 = 1_000_000;
  assert.equal(book.death('x', 'signal SIGABRT', t0), null);
  // a death outside the window does not count with the first
  assert.equal(book.death('x', 'signal SIGABRT', t0 + 20_000), null);
  const entry = book.death('x', 'signal SIGTRAP', t0 + 25_000);
  assert.ok(entry);
  assert.equal(entry.until, t0 + 25_000 + 60_000);
  assert.deepEqual(
    entry.deaths.map((d) => d.cause),
    ['signal SIGABRT', 'signal SIGTRAP'],
  );
  assert.equal(book.isQuarantined('x', t0 + 30_000), true);
  assert.equal(book.death('x', 'again', t0 + 31_000), null, 'already quarantined');
  assert.equal(book.isQuarantined('x', t0 + 25_000 + 60_001), false, 'the cool-down ended');
  assert.equal(book.death('x', 'after', t0 + 90_000), null, 'its count started over');
  assert.ok(book.death('y', 'a', t0) === null && book.death('y', 'b', t0 + 1) !== null);
  assert.equal(book.lift('y'), true);
  assert.deepEqual(book.list(t0 + 2), []);
  assert.equal(book.total, 2);
});

test("the supervisor keeps the end of a worker's stderr, finds its fatal line, and forwards whole lines", async () => {
  const stream = new PassThrough();
  const forwarded: string[] = [];
  const stderr = new WorkerStderr(stream, (text) => forwarded.push(text));
  stream.write('starting\n<--- Last few GCs --->\n');
  stream.write(
    'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n 1: 0xb8 node::Abort() [node]\npart',
  );
  stream.end(' of a line');
  await stderr.drained(1000);
  assert.equal(
    stderr.fatalMessage(),
    'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory',
  );
  const all = forwarded.join('');
  assert.ok(all.endsWith('part of a line\n'), JSON.stringify(all));
  for (const piece of forwarded) assert.ok(piece.endsWith('\n'), 'a piece ends inside a line');
  assert.equal(new WorkerStderr(null).fatalMessage(), null);
});
