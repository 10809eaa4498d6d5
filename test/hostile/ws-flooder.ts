// A WebSocket client in a process of its own, for the hostile suite's floods: the test process
// also runs the server and the measured neighbour, so a flood sent from it would slow them down
// itself. Forked with: <port> <host> <mode> <n> <ms>; reports one JSON message to its parent.
//   messages: opens <n> sockets and sends small messages on all of them as fast as the sockets
//             take them, for <ms>; reports what was sent and how each socket ended (or 'open')
//   sockets:  opens <n> sockets at once; reports how many opened and the status of the refused
//             ones; keeps them open until the parent says 'close'
import { WebSocket } from 'ws';

const [port, host, mode, n, ms] = process.argv.slice(2);
const count = Number(n);
const url = `ws://127.0.0.1:${port}/flood`;

function connect(): Promise<WebSocket | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers: { host: host! }, perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once('error', () => resolve(0));
  });
}

async function messages(): Promise<void> {
  const sockets = (await Promise.all(Array.from({ length: count }, connect))).filter(
    (s): s is WebSocket => typeof s !== 'number',
  );
  const ends: (number | 'open')[] = sockets.map(() => 'open');
  sockets.forEach((ws, i) => {
    ws.on('close', (code) => (ends[i] = code));
  });
  let sent = 0;
  const until = Date.now() + Number(ms);
  while (Date.now() < until) {
    for (const ws of sockets) {
      // as fast as the socket takes them: past 1 MiB not yet written, wait for the server to read
      if (ws.readyState !== ws.OPEN || ws.bufferedAmount > 1 << 20) continue;
      for (let i = 0; i < 200; i++) ws.send('x');
      sent += 200;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  process.send!({ opened: sockets.length, sent, ends }, () => process.exit(0));
  for (const ws of sockets) ws.terminate();
}

async function sockets(): Promise<void> {
  const results = await Promise.all(Array.from({ length: count }, connect));
  const open = results.filter((s): s is WebSocket => typeof s !== 'number');
  const statuses: Record<string, number> = {};
  for (const s of results) if (typeof s === 'number') statuses[s] = (statuses[s] ?? 0) + 1;
  process.send!({ opened: open.length, statuses });
  process.on('message', () => {
    for (const ws of open) ws.terminate();
    process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
}

(mode === 'messages' ? messages() : sockets()).catch((error: Error) => {
  process.send!({ error: error.message });
  process.exit(1);
});
