// What the in-flight journal (server/cluster/journal-writer.ts) costs one request: the calls the
// front and the isolate entry make for a GET answered at once (begin, tenant, one entering/left
// pair, answering, end), and for one that waited (its head kept too: park), on a real shared
// mapping, in CPU ns per request, minus the same loop doing nothing. The baseline beside it: one
// pwrite of 64 bytes to a /dev/shm file, what a journal written by system calls would cost per write.
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { mapSharedFile } from '../../native';
import { createJournal } from '../../server/cluster/journal';
import { connectionId, openJournal } from '../../server/cluster/journal-writer';
import { median, round } from '../lib/stats';

const N = 200_000;

function cpuNsPer(loop: () => void): number {
  const before = process.cpuUsage();
  loop();
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / N;
}

export function measureJournal(rounds: number): { journalNs: number; parkedNs: number; pwriteNs: number } {
  const folder = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'islet-bench-'));
  try {
    const file = createJournal(folder, 'bench');
    const journal = openJournal(file, mapSharedFile);
    const requests = Array.from({ length: 64 }, (_, i) => {
      const rawHeaders = ['Host', 'hello.localhost', 'User-Agent', 'autocannon', 'Accept', '*/*'];
      return {
        method: 'GET',
        url: `/?n=${i}`,
        httpVersion: '1.1',
        rawHeaders,
        headers: { host: 'hello.localhost', 'user-agent': 'autocannon', accept: '*/*' },
        socket: { [connectionId]: i + 1 },
      } as unknown as IncomingMessage;
    });
    let sink = 0;
    const withJournal = (park: boolean) => () => {
      for (let i = 0; i < N; i++) {
        const slot = journal.begin(requests[i & 63]!);
        journal.tenant(slot, 'hello');
        if (park) journal.park(slot, requests[i & 63]!);
        journal.entering('hello');
        journal.left();
        journal.answering(slot);
        journal.end(slot);
        sink += slot;
      }
    };
    const empty = () => {
      for (let i = 0; i < N; i++) sink += requests[i & 63]!.method!.length;
    };
    const fd = fs.openSync(path.join(folder, 'pwrite'), 'w+');
    const bytes = Buffer.alloc(64, 1);
    const pwrite = () => {
      for (let i = 0; i < N; i++) fs.writeSync(fd, bytes, 0, 64, (i & 1023) * 64);
    };
    cpuNsPer(withJournal(true)); // warm-up
    const journalNs: number[] = [];
    const parkedNs: number[] = [];
    const pwriteNs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      journalNs.push(cpuNsPer(withJournal(false)) - cpuNsPer(empty));
      parkedNs.push(cpuNsPer(withJournal(true)) - cpuNsPer(empty));
      pwriteNs.push(cpuNsPer(pwrite));
    }
    fs.closeSync(fd);
    if (sink === -1) console.log(sink);
    return {
      journalNs: round(median(journalNs), 0),
      parkedNs: round(median(parkedNs), 0),
      pwriteNs: round(median(pwriteNs), 0),
    };
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
}
