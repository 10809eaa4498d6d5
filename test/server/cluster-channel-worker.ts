// The worker side of test/server/cluster-channel.test.ts: a message table of its own (so the
// test exercises the channel without islet's messages), and, when this file runs as a
// node:cluster worker, handlers that answer, wait, fail, die or answer big on request. How a
// worker behaves comes from its environment (SLOW_MS, DIE), set by the test at fork time.
// Messages of the test's own (`{ type: 'test:...' }`, beside the channel's envelopes) make the
// worker ask the primary or flood it with notices, and report what happened.
import cluster from 'node:cluster';
import { notice, request, type Protocol } from '../../server/cluster/protocol';
import { WorkerChannel } from '../../server/cluster/worker-channel';

export const testProtocol = {
  name: 'channel-test',
  workerRequests: {
    echo: request<{ text: string; nested: { n: number[] } }, { text: string; nested: { n: number[] }; pid: number }>(
      2000,
    ),
    /** `items` strings of `size` characters, each one different, to check that answers arrive whole */
    big: request<{ items: number; size: number }, string[]>(10_000),
    /** answers after the worker's SLOW_MS */
    slow: request<void, number>(2000),
    /** a worker with DIE=1 exits without answering; others answer its pid */
    maybeDie: request<void, number>(2000),
    fail: request<{ message: string }, never>(2000),
    /** no worker has a handler for it */
    unhandled: request<void, void>(2000),
  },
  primaryRequests: {
    add: request<{ a: number; b: number }, number>(2000),
    /** the primary answers after `ms` */
    wait: request<{ ms: number }, string>(2000),
    /** the primary has no handler for it */
    nobody: request<void, void>(2000),
  },
  workerNotices: {},
  primaryNotices: {
    tick: notice<{ n: number }>({ lossy: true }),
  },
} as const satisfies Protocol;

export function expectedBig(items: number, size: number): string[] {
  return Array.from({ length: items }, (_, i) => `${i}:`.padEnd(size, String.fromCharCode(97 + (i % 26))));
}

function main(): void {
  const channel = new WorkerChannel(testProtocol);
  const slowMs = Number(process.env.SLOW_MS ?? 0);
  channel.handle('echo', (args) => ({ ...args, pid: process.pid }));
  channel.handle('big', ({ items, size }) => expectedBig(items, size));
  channel.handle('slow', () => new Promise((resolve) => setTimeout(() => resolve(slowMs), slowMs)));
  channel.handle('maybeDie', () => {
    if (process.env.DIE === '1') process.exit(7);
    return process.pid;
  });
  channel.handle('fail', ({ message }) => {
    throw new Error(message);
  });

  process.on(
    'message',
    (message: {
      type?: string;
      kind?: 'add' | 'wait' | 'nobody';
      args?: never;
      timeoutMs?: number;
      count?: number;
    }) => {
      if (message.type === 'test:ask') {
        channel.ask(message.kind!, message.args as never, { timeoutMs: message.timeoutMs }).then(
          (value) => process.send!({ type: 'test:asked', ok: true, value }),
          (error: { code?: string; message: string }) =>
            process.send!({ type: 'test:asked', ok: false, code: error.code, message: error.message }),
        );
      } else if (message.type === 'test:flood') {
        let refused = 0;
        for (let n = 0; n < message.count!; n++) if (!channel.notify('tick', { n })) refused++;
        process.send!({ type: 'test:flooded', refused, dropped: channel.stats().dropped });
      }
    },
  );
  process.send!({ type: 'test:ready' });
}

if (cluster.isWorker) main();
