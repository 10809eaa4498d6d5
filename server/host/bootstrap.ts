// The shim bootstrap (dist/runtime-shims/bootstrap.js, built by scripts/build-shims.js) compiled
// into an isolate. Once per process the sandbox warms the bootstrap up in a scratch isolate (runs
// it and serves one request), then compiles it again there with produceCachedData: V8 finds the
// already-run script in that isolate's compilation cache, so the code cache also holds every
// function the bootstrap and the request path compiled lazily. Every tenant isolate afterwards
// compiles from that cache and runs without compiling shim functions again.
//
// An isolate made from the bootstrap snapshot (./bootstrap-snapshot.ts) already holds the
// evaluated bootstrap: its context has the install function on one global, which runBootstrap
// takes (and deletes) instead of compiling anything.
import fs from 'node:fs';
import path from 'node:path';
import { BootstrapMissingError } from '../errors';
import type { CachedDataResult, Context, ExternalCopy, Isolate, Reference, Script } from './isolate-api';

const bootstrapPath = path.resolve(__dirname, '..', '..', 'runtime-shims', 'bootstrap.js');
const filename = 'islet:runtime-shims/bootstrap.js';
export const bootstrapFilename = filename;
/** the global an isolate made from the bootstrap snapshot keeps the install function on */
export const snapshotInstallName = '__isletBootstrapInstall';

let source: string | null = null;
let cachedData: ExternalCopy<ArrayBuffer> | null = null;

/** the bootstrap's source text (read once) */
export function bootstrapSource(): string {
  return readSource();
}

function readSource(): string {
  if (source === null) {
    try {
      source = fs.readFileSync(bootstrapPath, 'utf8');
    } catch (error) {
      const hint = 'run `node scripts/build-shims.js` (npm run build does it)';
      throw new BootstrapMissingError(`the shim bootstrap ${bootstrapPath} is missing: ${hint}`, error);
    }
  }
  return source;
}

export interface BootstrapStats {
  /** whether the compile consumed the process's cached data */
  cacheHit: boolean;
  /** whether the context came from the bootstrap snapshot (nothing was compiled) */
  fromSnapshot?: boolean;
}

/** the snapshot's install function, taken off the global; null for a context not made from it */
function takeSnapshotInstall(context: Context): Reference | null {
  const global = context.global; // kept by the context (released with it)
  const install = global.getSync(snapshotInstallName, { reference: true }) as Reference;
  if (install.typeof !== 'function') {
    install.release();
    return null;
  }
  global.deleteSync(snapshotInstallName);
  return install;
}

/** compiles and runs the bootstrap in `context`; returns a reference to the shims' install function */
export function runBootstrap(isolate: Isolate, context: Context, useCache = true, stats?: BootstrapStats): Reference {
  const fromSnapshot = takeSnapshotInstall(context);
  if (stats) stats.fromSnapshot = fromSnapshot !== null;
  if (fromSnapshot) {
    if (stats) stats.cacheHit = false;
    return fromSnapshot;
  }
  const code = readSource();
  let script: Script & CachedDataResult;
  let hit = false;
  if (useCache && cachedData) {
    script = isolate.compileScriptSync(code, { filename, cachedData });
    hit = script.cachedDataRejected !== true;
    if (!hit) cachedData = null; // another V8 or flags: the next compile produces fresh data
  } else {
    script = isolate.compileScriptSync(code, { filename, produceCachedData: useCache });
    if (useCache && script.cachedData) cachedData = script.cachedData;
  }
  if (stats) stats.cacheHit = hit;
  return script.runSync(context, { reference: true, release: true }) as Reference;
}

export function hasBootstrapCache(): boolean {
  return cachedData !== null;
}

/** produces the process's cached data in an isolate that already ran the bootstrap (see above) */
export function produceBootstrapCache(isolate: Isolate): void {
  const script = isolate.compileScriptSync(readSource(), { filename, produceCachedData: true });
  if (script.cachedData) cachedData = script.cachedData;
  script.release();
}

/** forgets the cached data (benchmarks measure both paths) */
export function resetBootstrapCache(): void {
  cachedData = null;
}
