// Isolate.createSnapshot(): runs V8's SnapshotCreator in a child process by default.
//
// V8 aborts the whole process when a heap holds something it cannot serialise (a
// SharedArrayBuffer, a resizable ArrayBuffer, WebAssembly objects...), and a snapshot script is
// arbitrary code that may loop or exhaust memory. So the snapshot is made by a fresh Node
// process of this very binary (same V8, same read-only heap), which loads the addon, makes the
// blob in-process (Isolate._createSnapshot) and writes it to its stdout. A script's error comes
// back as the same error class; a crash or a time-out becomes a clear error here. `inProcess`
// skips the child (about 100 ms faster) for scripts the caller trusts to be serialisable.
import { spawnSync } from 'node:child_process';

export interface SnapshotScript {
  code: string;
  /** shown in errors; use a URI such as `file:///bootstrap.js` */
  filename?: string;
  lineOffset?: number;
  columnOffset?: number;
}

export interface CreateSnapshotOptions {
  /** make the snapshot in this process: faster, but V8 aborts the process on a heap it cannot serialise */
  inProcess?: boolean;
  /** ms the child process may take (default 60000) */
  timeout?: number;
}

const errorClasses: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

// Runs in the child: `node -e CHILD <addon path>`, the request as JSON on stdin.
const CHILD = `
const fs = require('fs');
const binding = require(process.argv[1]);
const request = JSON.parse(fs.readFileSync(0, 'utf8'));
let bytes;
try {
  bytes = Buffer.from(binding.Isolate._createSnapshot(request.scripts, request.warmupScript).copy());
} catch (error) {
  const e = error instanceof Error ? error : new Error(String(error));
  const described = { name: e.name, message: e.message, stack: e.stack, code: e.code };
  fs.writeSync(2, '\\n@@islet-snapshot-error@@' + JSON.stringify(described));
  process.exit(3);
}
process.stdout.write(bytes);
`;

/** Throws a TypeError naming the bad argument. */
export function checkSnapshotArguments(scripts: unknown, warmupScript: unknown): void {
  if (!Array.isArray(scripts))
    throw new TypeError('createSnapshot(scripts): `scripts` must be an array of { code, filename? }');
  scripts.forEach((script, index) => {
    if (typeof script !== 'object' || script === null || typeof (script as SnapshotScript).code !== 'string') {
      throw new TypeError(`createSnapshot: scripts[${index}].code must be a string`);
    }
  });
  if (
    warmupScript !== undefined &&
    typeof warmupScript !== 'string' &&
    typeof (warmupScript as SnapshotScript)?.code !== 'string'
  ) {
    throw new TypeError('createSnapshot: `warmupScript` must be a string or { code, filename? }');
  }
}

function childError(stderr: string, status: number | null, signal: NodeJS.Signals | null): Error {
  const marker = stderr.lastIndexOf('@@islet-snapshot-error@@');
  if (status === 3 && marker >= 0) {
    const described = JSON.parse(stderr.slice(marker + '@@islet-snapshot-error@@'.length)) as {
      name?: string;
      message?: string;
      stack?: string;
      code?: string;
    };
    const Class = errorClasses[described.name ?? ''] ?? Error;
    const error = new Class(described.message ?? 'createSnapshot failed');
    if (described.stack) error.stack = described.stack;
    if (described.code) Object.assign(error, { code: described.code });
    return error;
  }
  const ended = signal ? `was killed by ${signal}` : `exited with code ${status}`;
  // V8's fatal report comes before its native stack trace; keep the lines that say what failed.
  const report = stderr.split('----- Native stack trace -----')[0];
  const said = report
    .split('\n')
    .map((line) => line.replace(/^#\s*/, '').trim())
    .filter((line) => line && !/^(Fatal error in|FailureMessage Object)/.test(line))
    .slice(-8)
    .join('\n');
  return Object.assign(
    new Error(
      `createSnapshot: V8 could not make the snapshot (the process making it ${ended}). ` +
        'V8 cannot serialise some objects, such as Intl objects or objects held by native code' +
        (said ? `; it said:\n${said}` : ''),
    ),
    { code: 'ERR_ISOLATE_SNAPSHOT' },
  );
}

/** Makes the snapshot in a child process of this binary; returns islet's snapshot bytes. */
export function createSnapshotInChild(
  bindingFile: string,
  scripts: SnapshotScript[],
  warmupScript: string | SnapshotScript | undefined,
  timeout = 60000,
): ArrayBuffer {
  if (!(typeof timeout === 'number' && timeout > 0 && timeout <= 2 ** 31 - 1))
    throw new TypeError('createSnapshot: `timeout` must be a positive number of ms');
  // The child must have this process's read-only heap: the same --no-node-snapshot choice.
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const args = flags.includes('--no-node-snapshot') ? ['--no-node-snapshot'] : [];
  const result = spawnSync(process.execPath, [...args, '-e', CHILD, bindingFile], {
    input: JSON.stringify({ scripts, warmupScript }),
    env: { ...process.env, NODE_OPTIONS: '' },
    maxBuffer: 2 ** 30,
    timeout,
    killSignal: 'SIGKILL',
    windowsHide: true,
  });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    if (code === 'ETIMEDOUT') {
      throw Object.assign(
        new Error(`createSnapshot: making the snapshot took longer than ${timeout} ms (does a script never finish?)`),
        {
          code: 'ERR_ISOLATE_SNAPSHOT',
        },
      );
    }
    throw Object.assign(new Error(`createSnapshot: could not run ${process.execPath}: ${result.error.message}`), {
      code: 'ERR_ISOLATE_SNAPSHOT',
      cause: result.error,
    });
  }
  if (result.status !== 0) throw childError(result.stderr.toString('utf8'), result.status, result.signal);
  const bytes = new ArrayBuffer(result.stdout.length);
  new Uint8Array(bytes).set(result.stdout);
  return bytes;
}
