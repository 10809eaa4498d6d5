// The five throughput workloads: which path of workload/worker.mjs each drives, with what
// request, and how to recognise a correct answer (a benchmark of wrong answers measures
// nothing, so every system is checked once before it is loaded).
import type { HttpResponse } from '../lib/http';

export interface Workload {
  id: string;
  label: string;
  describe: string;
  method: 'GET' | 'POST';
  path(upstreamUrl: string): string;
  headers?: Record<string, string>;
  body?: string;
  /** null when the response is right, else what is wrong with it */
  check(res: HttpResponse): string | null;
}

/** A JSON document of exactly `bytes` bytes (padding string sized to fit). */
export function jsonOfSize(bytes: number): string {
  const base = {
    id: 42,
    user: { name: 'Ada Lovelace', roles: ['admin', 'dev'] },
    tags: ['a', 'b', 'c'],
    ok: true,
    pad: '',
  };
  const empty = JSON.stringify(base).length;
  base.pad = 'x'.repeat(Math.max(0, bytes - empty));
  return JSON.stringify(base);
}

const ECHO_BODY = jsonOfSize(1024);

function status200(res: HttpResponse): string | null {
  return res.status === 200 ? null : `status ${res.status}: ${res.body.toString('utf8', 0, 300)}`;
}

export const workloads: Workload[] = [
  {
    id: 'hello',
    label: 'hello world',
    describe: 'GET, 14-byte text response',
    method: 'GET',
    path: () => '/hello',
    check: (res) =>
      status200(res) ?? (res.body.toString() === 'Hello, world!\n' ? null : `unexpected body '${res.body}'`),
  },
  {
    id: 'echo',
    label: 'JSON echo 1 KB',
    describe: 'POST a 1 KB JSON body, parsed and re-encoded in the response',
    method: 'POST',
    path: () => '/echo',
    headers: { 'content-type': 'application/json' },
    body: ECHO_BODY,
    check: (res) =>
      status200(res) ?? (res.body.toString() === ECHO_BODY ? null : `echo differs (${res.body.length} bytes)`),
  },
  {
    id: 'cpu',
    label: 'CPU ~1 ms',
    describe: 'FNV-1a hashing in JavaScript, ~1 ms per request in Node on this machine',
    method: 'GET',
    path: () => '/cpu',
    check: (res) =>
      status200(res) ?? (/^[0-9a-f]+\n$/.test(res.body.toString()) ? null : `unexpected body '${res.body}'`),
  },
  {
    id: 'stream',
    label: 'stream 1 MiB',
    describe: 'GET, 1 MiB response streamed as 16 chunks of 64 KiB',
    method: 'GET',
    path: () => '/stream',
    check: (res) =>
      status200(res) ?? (res.body.length === 1 << 20 ? null : `body is ${res.body.length} bytes, not 1 MiB`),
  },
  {
    id: 'fetch',
    label: 'fetch() upstream',
    describe: 'one fetch() to a local node:http upstream, its 2-byte body returned',
    method: 'GET',
    path: (upstreamUrl) => `/fetch?upstream=${encodeURIComponent(upstreamUrl)}`,
    check: (res) => status200(res) ?? (res.body.toString() === 'ok' ? null : `unexpected body '${res.body}'`),
  },
];
