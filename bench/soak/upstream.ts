// The local upstream that tenant fetch() calls reach during the soak (127.0.0.1 only; islet is
// started with ISLET_EGRESS_ALLOW=127.0.0.1 so its egress guard lets these through).
//   GET /item/<k>?from=<tenant>   JSON {item, price, from}: the fetch kind relays it
//   GET /beacon?tenant=&id=       204, counted: sent from waitUntil by the timers kind, so the
//                                 harness can tell whether work after the response was lost
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { itemPrice } from './tenants';

export interface Upstream {
  url: string;
  /** beacons received since the last reset */
  beacons(): number;
  /** item requests received since the last reset */
  items(): number;
  reset(): void;
  close(): Promise<void>;
}

export async function startUpstream(): Promise<Upstream> {
  let beacons = 0;
  let items = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    if (url.pathname === '/beacon') {
      beacons++;
      res.writeHead(204).end();
      return;
    }
    const m = /^\/item\/(\d+)$/.exec(url.pathname);
    if (m) {
      items++;
      const item = Number(m[1]);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ item, price: itemPrice(item), from: url.searchParams.get('from') }));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`upstream: no route for ${url.pathname}\n`);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    beacons: () => beacons,
    items: () => items,
    reset() {
      beacons = 0;
      items = 0;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
