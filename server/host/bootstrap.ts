// The shim bootstrap (dist/runtime-shims/bootstrap.js, built by scripts/build-shims.js) compiled
// into an isolate. The first compile in this process produces V8's code cache; every later
// compile (each new tenant isolate) consumes it, so a cold start pays for running the bootstrap,
// not for parsing 130 KB of JavaScript.
import fs from 'node:fs';
import path from 'node:path';
import type { Context, ExternalCopy, Isolate, Reference } from './isolate-api';

const bootstrapPath = path.resolve(__dirname, '..', '..', 'runtime-shims', 'bootstrap.js');
const filename = 'islet:runtime-shims/bootstrap.js';

let source: string | null = null;
let cachedData: ExternalCopy<ArrayBuffer> | null = null;

function readSource(): string {
  if (source === null) {
    try {
      source = fs.readFileSync(bootstrapPath, 'utf8');
    } catch (error) {
      throw Object.assign(new Error(`the shim bootstrap ${bootstrapPath} is missing: run \`node scripts/build-shims.js\` (npm run build does it)`), { code: 'ISLET_NO_BOOTSTRAP', cause: error });
    }
  }
  return source;
}

export interface BootstrapStats {
  /** whether the compile consumed the process's cached data */
  cacheHit: boolean;
}

/** compiles and runs the bootstrap in `context`; returns a reference to the shims' install function */
export function runBootstrap(isolate: Isolate, context: Context, useCache = true, stats?: BootstrapStats): Reference {
  const code = readSource();
  let script;
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

/** forgets the cached data (benchmarks measure both paths) */
export function resetBootstrapCache(): void {
  cachedData = null;
}
