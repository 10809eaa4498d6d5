// A WebSocket client for the suites, on `ws` (what a Node client of islet would use): connects to
// a tenant through islet's tenant port with the tenant's Host, keeps every message it gets, and
// lets a test wait for the next one or for the close.
import { WebSocket } from 'ws';

export interface Closed {
  code: number;
  reason: string;
}

export class Client {
  readonly ws: WebSocket;
  readonly received: (string | Buffer)[] = [];
  /** the headers of the server's 101 */
  headers: Record<string, string | string[] | undefined> = {};
  /** settles with the close code and reason the client saw */
  readonly closed: Promise<Closed>;
  #waiters: (() => void)[] = [];

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer, isBinary) => {
      this.received.push(isBinary ? Buffer.from(data) : data.toString('utf8'));
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString('utf8') });
        for (const wake of this.#waiters.splice(0)) wake();
      });
    });
    ws.on('error', () => {});
  }

  /** the `count`th message received (0-based), waiting up to `ms` for it */
  async message(count: number, ms = 5000): Promise<string | Buffer> {
    const until = Date.now() + ms;
    while (this.received.length <= count) {
      if (Date.now() > until)
        throw new Error(`message ${count} did not arrive within ${ms} ms (got ${this.received.length})`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.received[count]!;
  }

  /** resolves with the close, or rejects after `ms` */
  async closing(ms = 5000): Promise<Closed> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the socket was not closed within ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  send(data: string | Buffer): void {
    this.ws.send(data);
  }
}

/** the answer of an upgrade the server did not accept */
export interface Refused {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * Opens a WebSocket to `path` on islet's tenant port with Host `host`; resolves with the client
 * once open, or with the HTTP answer when the server answered something other than 101.
 */
export function connect(
  port: number,
  host: string,
  path: string,
  options: { protocols?: string[]; headers?: Record<string, string> } = {},
): Promise<Client | Refused> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, options.protocols ?? [], {
      headers: { host, ...options.headers },
      perMessageDeflate: false,
    });
    let headers: Client['headers'] = {};
    ws.once('upgrade', (res) => (headers = res.headers));
    ws.once('open', () => {
      const client = new Client(ws);
      client.headers = headers;
      resolve(client);
    });
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    ws.once('error', reject);
  });
}

/** connect(), asserting the upgrade succeeded */
export async function open(
  port: number,
  host: string,
  path: string,
  options?: { protocols?: string[]; headers?: Record<string, string> },
): Promise<Client> {
  const result = await connect(port, host, path, options);
  if (!(result instanceof Client)) throw new Error(`upgrade refused: ${result.status} ${result.body}`);
  return result;
}
