// A minimal HTTP client on node:http for the harness's own calls (readiness probes, admin API,
// cold-start timing). node:http rather than fetch because benchmarks must set `Host` freely
// (tenant routing) and time one request without a connection pool in the way.
import http from 'node:http';

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
  /** Use a fresh connection (the default): cold-start timings must not reuse a socket. */
  agent?: http.Agent | false;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export function request(url: string, req: HttpRequest = {}): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const r = http.request(
      url,
      {
        method: req.method ?? 'GET',
        headers: req.headers,
        agent: req.agent ?? false,
        timeout: req.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    r.on('timeout', () =>
      r.destroy(new Error(`${req.method ?? 'GET'} ${url} timed out after ${req.timeoutMs ?? 10_000} ms`)),
    );
    r.on('error', reject);
    r.end(req.body);
  });
}

/** Sends requests until one is answered with `expectStatus`, or throws after `timeoutMs`. */
export async function waitForHttp(
  url: string,
  opts: { headers?: Record<string, string>; timeoutMs?: number; expectStatus?: number; isAlive?: () => boolean } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (opts.isAlive && !opts.isAlive()) throw new Error(`the server behind ${url} exited before it answered`);
    try {
      const res = await request(url, { headers: opts.headers, timeoutMs: 2000 });
      if (res.status === (opts.expectStatus ?? 200)) return;
      last = `status ${res.status}: ${res.body.toString('utf8', 0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${url} was not ready within ${opts.timeoutMs ?? 20_000} ms (last: ${last})`);
}
