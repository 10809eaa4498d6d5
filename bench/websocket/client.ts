// The load of bench/websocket, in a process of its own (forked by main.ts): `ws` clients on one
// system's echo. Arguments: <url> <host> <mode> <connections> <seconds> <bytes>, where mode is
//   rtt:        each connection sends one message, waits for its echo, sends the next
//   throughput: each connection keeps WINDOW messages in flight
// It sends one JSON line to its parent: echoes per second, and (rtt) the round trip's p50/p99.
import { WebSocket } from 'ws';
import { percentileSorted } from '../lib/stats';

const [url, host, mode, connections, seconds, bytes] = process.argv.slice(2);
const WINDOW = 32;
const payload = 'x'.repeat(Number(bytes));

function open(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url!, { headers: { host: host! }, perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
  });
}

async function main(): Promise<void> {
  const sockets = await Promise.all(Array.from({ length: Number(connections) }, open));
  const warmupEnd = performance.now() + 1000;
  const end = warmupEnd + Number(seconds) * 1000;
  let echoes = 0;
  const rtts: number[] = [];
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve, reject) => {
          let sentAt = 0;
          const send = () => {
            sentAt = performance.now();
            ws.send(payload);
          };
          ws.on('error', reject);
          ws.on('close', (code) => reject(new Error(`closed ${code} during the run`)));
          ws.on('message', () => {
            const now = performance.now();
            if (now >= warmupEnd && now < end) {
              echoes++;
              if (mode === 'rtt') rtts.push(now - sentAt);
            }
            if (now >= end) {
              ws.removeAllListeners('close');
              resolve();
              return;
            }
            send();
          });
          const inFlight = mode === 'rtt' ? 1 : WINDOW;
          for (let i = 0; i < inFlight; i++) send();
        }),
    ),
  );
  for (const ws of sockets) ws.terminate();
  rtts.sort((a, b) => a - b);
  const result = {
    messagesPerSecond: echoes / Number(seconds),
    p50: rtts.length ? percentileSorted(rtts, 50) : null,
    p99: rtts.length ? percentileSorted(rtts, 99) : null,
  };
  process.send!(result, () => process.exit(0));
}

main().catch((error: Error) => {
  process.send!({ error: error.message }, () => process.exit(1));
});
