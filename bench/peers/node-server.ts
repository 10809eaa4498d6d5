// The bare node:http baseline: the same five workloads as workload/worker.mjs, written the way a
// Node developer would write them without any platform in between (no Request/Response
// objects, no isolate). It is the ceiling an isolate platform on Node can approach.
// Started by the harness as `node node-server.js <port>`; prints "ready" once listening.
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const HELLO = Buffer.from('Hello, world!\n');
const CHUNK = Buffer.alloc(64 * 1024, 0x61);
const STREAM_CHUNKS = 16;

interface WorkloadModule {
  default: { burn(rounds: number): number; CPU_ROUNDS: number };
}

async function main(): Promise<void> {
  const port = Number(process.argv[2]);
  if (!Number.isInteger(port) || port <= 0)
    throw new Error(`node-server: expected a port as argv[2], got '${process.argv[2]}'`);
  const root = path.resolve(__dirname, '../../..');
  // The CPU workload runs the very function the isolates run.
  const { default: mod } = (await import(
    pathToFileURL(path.join(root, 'bench/peers/workload/worker.mjs')).href
  )) as WorkloadModule;

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    switch (url.pathname) {
      case '/hello':
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': HELLO.length });
        res.end(HELLO);
        return;
      case '/echo': {
        const chunks: Buffer[] = [];
        // The load generator cuts connections mid-request when its time is up.
        req.on('error', () => res.destroy());
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          let out: string;
          try {
            out = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch {
            res.writeHead(400).end('bad json\n');
            return;
          }
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
          res.end(out);
        });
        return;
      }
      case '/cpu': {
        const body = mod.burn(mod.CPU_ROUNDS).toString(16) + '\n';
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      case '/stream': {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        let sent = 0;
        const pump = (): void => {
          while (sent < STREAM_CHUNKS) {
            sent++;
            if (!res.write(CHUNK)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      case '/fetch': {
        const upstream = url.searchParams.get('upstream');
        if (!upstream) {
          res.writeHead(400).end('missing ?upstream=\n');
          return;
        }
        fetch(upstream)
          .then(async (r) => {
            const text = await r.text();
            res.writeHead(r.status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
            res.end(text);
          })
          .catch((err: Error) => {
            res.writeHead(502).end(`upstream failed: ${err.message}\n`);
          });
        return;
      }
      default:
        res.writeHead(404).end('not found\n');
    }
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

main().catch((err: unknown) => {
  process.stderr.write(`node-server: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
