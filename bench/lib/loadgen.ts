// Drives HTTP load at a server from a separate process (loadgen-child.ts, autocannon inside) and
// returns what it measured. Every system in a comparison goes through this one function, so the
// load generator, its settings and its cost on the shared CPU are the same for all of them.
import { execFile } from 'node:child_process';
import path from 'node:path';

export interface LoadOptions {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Concurrent keep-alive connections. */
  connections: number;
  /** Load applied first and thrown away, so JITs, caches and pools are warm. */
  warmupSeconds: number;
  durationSeconds: number;
}

export interface LoadResult {
  /** 2xx responses per second of the measured phase. */
  requestsPerSecond: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  bytesPerSecond: number;
  durationSeconds: number;
  /** Latency of 2xx responses, milliseconds. */
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  statusCodes: Record<string, number>;
}

const child = path.join(__dirname, 'loadgen-child.js');

export function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const limitMs = (opts.warmupSeconds + opts.durationSeconds + 30) * 1000;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [child, JSON.stringify(opts)],
      { timeout: limitMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`load generator against ${opts.url} failed: ${err.message}\n${stderr}`));
          return;
        }
        const line = stdout.trim().split('\n').pop() ?? '';
        try {
          resolve(JSON.parse(line) as LoadResult);
        } catch {
          reject(new Error(`load generator against ${opts.url} printed no result: ${stdout}\n${stderr}`));
        }
      },
    );
  });
}
