// Runs a program against the addon in a child process, so that a crash (a signal, V8's abort)
// or a hang is a failing test instead of a dead test runner. The child gets `ivm` (the module
// under test) and `assert` (node:assert/strict); it must print `ok` and exit 0 to pass.
// ISLET_NATIVE_MODULE names another build of the module to test (e.g. an older checkout, to
// see a regression test fail); ISLET_ADDON, LD_PRELOAD and ASAN_OPTIONS pass through, so the
// AddressSanitizer run (npm run test:native:asan) covers these programs too.
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import path from 'node:path';

export const nativeModule = process.env.ISLET_NATIVE_MODULE ?? path.resolve(__dirname, '..', '..', 'native');

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

export interface ChildOptions {
  /** killed (and reported as a hang) after this long; default 20 s */
  timeoutMs?: number;
  /** extra Node flags, e.g. --expose-gc */
  nodeArgs?: string[];
  /** false: the child does not load the addon itself (`ivm` is not defined; worker_threads may) */
  loadAddon?: boolean;
}

/** Runs `body` (JavaScript; `ivm` and `assert` are in scope) in a fresh Node process. */
export function runChild(body: string, options: ChildOptions = {}): Promise<ChildResult> {
  const load = options.loadAddon === false ? '' : `const ivm = require(${JSON.stringify(nativeModule)}); `;
  const prelude = `${load}const assert = require('node:assert/strict');\n`;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-node-snapshot', ...(options.nodeArgs ?? []), '-e', prelude + body], {
      env: { ...process.env, ISLET_NATIVE_MODULE: nativeModule },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut, ms: Date.now() - started });
    });
  });
}

/** Asserts that the child ended on its own, with exit code 0, having printed `ok`. */
export function assertClean(result: ChildResult, what: string): void {
  const tail = `\n--- stdout ---\n${result.stdout.slice(-2000)}\n--- stderr ---\n${result.stderr.slice(-4000)}`;
  assert.ok(!result.timedOut, `${what}: hung (killed after ${result.ms} ms)${tail}`);
  assert.equal(result.signal, null, `${what}: crashed with ${result.signal}${tail}`);
  assert.equal(result.code, 0, `${what}: exit code ${result.code}${tail}`);
  assert.match(result.stdout, /^ok$/m, `${what}: did not finish${tail}`);
}

/** Runs `body` in a child and asserts it ended cleanly. */
export async function inChild(what: string, body: string, options?: ChildOptions): Promise<ChildResult> {
  const result = await runChild(body, options);
  assertClean(result, what);
  return result;
}
