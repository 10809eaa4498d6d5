// Tenant isolates start from a V8 startup snapshot that already holds the evaluated shim
// bootstrap: V8 deserialises the bundle's functions, classes and primordials instead of compiling
// and running ~220 KB of script per isolate. Only the bootstrap's completion value (the shims'
// `install`) is kept, on a global the sandbox takes and deletes before anything else runs
// (./bootstrap.ts); install is then called with the bridge and env as before, so the snapshot
// holds no host function, no tenant data and no time of its own.
//
// The snapshot is valid for one Node binary and one bootstrap: it is stored as
// dist/runtime-shims/snapshots/bootstrap-<node>-<v8>-<arch>-<flag>-<hash of the bootstrap>.bin,
// made on first use when missing (Isolate.createSnapshot in a child process of this binary,
// ~0.2-0.5 s, once per build), and older files of that folder are removed then. A snapshot that
// cannot be made or loaded is reported once (warning) and the process goes on with the code-cache
// path.
//
// Off unless ISLET_BOOTSTRAP_SNAPSHOT=on. Measured on Node 20 (V8 11.3), 100 KB deployment, cold
// start to first answer: ~17% more instructions than the warm code-cache path (callgrind, 31.3M
// against 26.7M per start): V8 deserialises the blob per isolate (1.6 ms against 0.75 ms for an
// isolate, adler32 over the blob included) and the functions install and the first request run
// are compiled lazily in every isolate; isolate heap per idle tenant is 14% smaller, RSS ~3%.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { bootstrapFilename, bootstrapSource, snapshotInstallName } from './bootstrap';
import { isolateApi, onReferenceLibrary, type ExternalCopy, type Isolate } from './isolate-api';

type IsolateOptions = NonNullable<ConstructorParameters<ReturnType<typeof isolateApi>['Isolate']>[0]>;
export type SnapshotWarn = (message: string, details: Record<string, unknown>) => void;

const defaultDir = path.resolve(__dirname, '..', '..', 'runtime-shims', 'snapshots');

type State =
  | { kind: 'ready'; snapshot: ExternalCopy<ArrayBuffer>; file: string | null }
  | { kind: 'off'; reason: string };
let state: State | undefined;
let directory = defaultDir;
let makeSnapshot = make;

/** ISLET_BOOTSTRAP_SNAPSHOT: on or off (default); anything else is a configuration error */
export function snapshotWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = (env.ISLET_BOOTSTRAP_SNAPSHOT ?? '').trim().toLowerCase();
  if (raw === 'on' || raw === 'true' || raw === '1') return true;
  if (raw === '' || raw === 'off' || raw === 'false' || raw === '0') return false;
  throw new TypeError(`ISLET_BOOTSTRAP_SNAPSHOT must be on or off (got '${env.ISLET_BOOTSTRAP_SNAPSHOT}')`);
}

function nodeSnapshotChoice(): string {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return flags.includes('--no-node-snapshot') ? 'nns' : 'ns';
}

/** the file name this process's snapshot of `source` has: Node, V8, architecture, heap choice, bootstrap */
export function snapshotFileName(source: string): string {
  const hash = crypto.createHash('sha256').update(source).digest('hex').slice(0, 16);
  const { node, v8 } = process.versions;
  return `bootstrap-${node}-${v8}-${process.arch}-${nodeSnapshotChoice()}-${hash}.bin`.replace(/[^\w.-]/g, '_');
}

/** the script the snapshot runs: the bootstrap, its completion value left on one global */
function snapshotScript(source: string) {
  return { code: `globalThis.${snapshotInstallName} = ${source}`, filename: bootstrapFilename };
}

/** true when an isolate made from `snapshot` starts with the bootstrap's install function */
function loads(snapshot: ExternalCopy<ArrayBuffer> | Buffer): boolean {
  const isolate = new (isolateApi().Isolate)({ memoryLimit: 16, snapshot });
  try {
    const context = isolate.createContextSync();
    return context.evalSync(`typeof globalThis.${snapshotInstallName}`) === 'function';
  } finally {
    isolate.dispose();
  }
}

// No warm-up script: V8 runs one in a throwaway context, and the functions it compiles there are
// not the default context's (measured: the first request compiled the same 124 functions with or
// without it). Compiling everything eagerly (--no-lazy) removed that compile but made the blob
// 1 MB and each isolate's deserialisation 1.1 ms dearer: slower overall.
function make(source: string): ExternalCopy<ArrayBuffer> {
  return isolateApi().Isolate.createSnapshot([snapshotScript(source)]);
}

/** writes the file next to the others of its folder, atomically, and removes stale snapshots */
function store(file: string, snapshot: ExternalCopy<ArrayBuffer>): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, Buffer.from(snapshot.copy()));
  fs.renameSync(temporary, file);
  for (const name of fs.readdirSync(path.dirname(file))) {
    if (name.startsWith('bootstrap-') && name.endsWith('.bin') && name !== path.basename(file)) {
      fs.rmSync(path.join(path.dirname(file), name), { force: true });
    }
  }
}

function prepare(warn: SnapshotWarn): State {
  if (!snapshotWanted()) return { kind: 'off', reason: 'ISLET_BOOTSTRAP_SNAPSHOT=off' };
  // the reference library's snapshots are another format (and marked unstable there)
  if (onReferenceLibrary()) return { kind: 'off', reason: 'the reference isolate library is in use' };
  const source = bootstrapSource();
  const file = path.join(directory, snapshotFileName(source));
  const { ExternalCopy } = isolateApi();
  try {
    const bytes = fs.readFileSync(file);
    const snapshot = new ExternalCopy(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    if (loads(snapshot)) return { kind: 'ready', snapshot, file };
    snapshot.release();
  } catch {
    // missing, unreadable or made by another build: made again below
  }
  let snapshot: ExternalCopy<ArrayBuffer>;
  try {
    snapshot = makeSnapshot(source);
    if (!loads(snapshot)) throw new Error('an isolate made from it lacks the bootstrap');
  } catch (error) {
    const reason = `the shim bootstrap's startup snapshot could not be made or loaded: ${(error as Error).message}`;
    warn(`${reason}; tenant isolates compile the bootstrap from its code cache instead`, { file });
    return { kind: 'off', reason };
  }
  try {
    store(file, snapshot);
  } catch (error) {
    // a read-only install: the snapshot still serves this process, made again by the next one
    warn('the startup snapshot could not be stored; it is made again at the next start', {
      file,
      error: (error as Error).message,
    });
    return { kind: 'ready', snapshot, file: null };
  }
  return { kind: 'ready', snapshot, file };
}

const defaultWarn: SnapshotWarn = (message, details) =>
  process.emitWarning(`${message} (${JSON.stringify(details)})`, { code: 'ISLET_BOOTSTRAP_SNAPSHOT' });

/**
 * The process's bootstrap snapshot (made or read on first call), or null when it is off or
 * failed; `warn` hears why, once.
 */
export function bootstrapSnapshot(warn: SnapshotWarn = defaultWarn): ExternalCopy<ArrayBuffer> | null {
  state ??= prepare(warn);
  return state.kind === 'ready' ? state.snapshot : null;
}

/**
 * A new isolate for tenant code: from the bootstrap snapshot when there is one. An isolate the
 * snapshot cannot make (the addon refuses it) is made without it, with a warning, and the process
 * stops using the snapshot.
 */
export function createTenantIsolate(options: IsolateOptions, warn: SnapshotWarn = defaultWarn): Isolate {
  const { Isolate } = isolateApi();
  const snapshot = bootstrapSnapshot(warn);
  if (snapshot) {
    try {
      return new Isolate({ ...options, snapshot });
    } catch (error) {
      state = { kind: 'off', reason: (error as Error).message };
      warn('an isolate could not start from the bootstrap snapshot; the code-cache path is used from now on', {
        error: (error as Error).message,
      });
    }
  }
  return new Isolate(options);
}

/** what the process uses, for logs and benchmarks */
export function snapshotState(): { used: boolean; file: string | null; reason?: string } {
  if (!state) return { used: false, file: null, reason: 'not prepared yet' };
  return state.kind === 'ready' ? { used: true, file: state.file } : { used: false, file: null, reason: state.reason };
}

/**
 * Tests and benchmarks: forget the process's choice; `dir` moves where snapshots are kept, `make`
 * replaces how one is made (tests give it bytes that are no snapshot, to see the fallback).
 */
export function resetBootstrapSnapshot(
  options: { dir?: string; make?: (source: string) => ExternalCopy<ArrayBuffer> } = {},
): void {
  state = undefined;
  directory = options.dir ?? defaultDir;
  makeSnapshot = options.make ?? make;
}
