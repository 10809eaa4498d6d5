// What a run of one side returns per job, and the two pieces both sides share: sending a job to
// the harness worker (harness-worker.mjs) over HTTP, and running jobs a few at a time.
import fs from 'node:fs';
import path from 'node:path';
import { request } from '../lib/http';
import type { Job } from './manifest';

/** testharness.js statuses: 0 PASS, 1 FAIL, 2 TIMEOUT, 3 NOTRUN, 4 PRECONDITION_FAILED */
export interface Subtest {
  name: string;
  status: number;
  message: string | null;
}

export interface JobResult {
  tests: Subtest[];
  /** testharness's harness status: 0 OK, 1 ERROR, 2 TIMEOUT, 3 PRECONDITION_FAILED */
  harness: { status: number; message: string | null };
  /** uncaught errors of the scripts as they were evaluated */
  scriptErrors: string[];
  timedOut: boolean;
  /** the job did not produce a testharness report at all (an HTTP error, a crash) */
  error?: string;
}

export type SideResults = Map<string, JobResult>;

export const harnessWorkerPath = (repoRoot: string) => path.join(repoRoot, 'bench/wpt/harness-worker.mjs');

export function harnessWorkerSource(repoRoot: string): Buffer {
  return fs.readFileSync(harnessWorkerPath(repoRoot));
}

export function failed(error: string): JobResult {
  return { tests: [], harness: { status: 1, message: error }, scriptErrors: [], timedOut: false, error };
}

/** POSTs one job to a harness worker at `url`; every failure becomes a JobResult saying why */
export async function postJob(url: string, job: Job, headers: Record<string, string> = {}): Promise<JobResult> {
  const body = JSON.stringify({ url: job.url, title: job.title, timeoutMs: job.timeoutMs, scripts: job.scripts });
  try {
    const res = await request(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body,
      timeoutMs: job.timeoutMs + 30_000,
    });
    const text = res.body.toString('utf8');
    if (res.status !== 200) return failed(`HTTP ${res.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as JobResult;
  } catch (err) {
    return failed((err as Error).message);
  }
}

/** runs `fn` over `items`, `concurrency` at a time, in order of start */
export async function eachLimited<T>(items: T[], concurrency: number, fn: (item: T, index: number) => Promise<void>) {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length) {
      const index = next++;
      await fn(items[index], index);
    }
  });
  await Promise.all(lanes);
}

export type Progress = (side: string, job: Job, result: JobResult) => void;

export function consoleProgress(total: number): Progress {
  const done = new Map<string, number>();
  return (side, job, result) => {
    const n = (done.get(side) ?? 0) + 1;
    done.set(side, n);
    const passed = result.tests.filter((t) => t.status === 0).length;
    const note = result.error ? ` ERROR ${result.error.slice(0, 120)}` : result.timedOut ? ' (timed out)' : '';
    process.stderr.write(`[${side} ${n}/${total}] ${job.id}: ${passed}/${result.tests.length}${note}\n`);
  };
}
