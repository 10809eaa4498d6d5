// Loads one deployment into a fresh isolate + sandbox: compile every module with its stored code
// cache, link them with the native Module API (relative imports between the deployment's files,
// the import map for bare specifiers, islet's built-in modules for node:* and cloudflare:workers
// through builtins.ts), evaluate the entry under a time limit, and bind the handler. Used by the
// pool for a cold start and by prepareDeployment at deploy time; the only difference is where
// files and caches come from (ModuleSource).
//
// Compiling and linking use the isolate's synchronous forms while they are quick (a thread hop
// per module would cost more than it saves), and its asynchronous forms past a few milliseconds
// (thousands of modules: the event loop must stay free). Evaluation runs tenant code of unbounded
// duration, so it is asynchronous, under the startup time and CPU limits.
import path from 'node:path';
import { DeploymentLoadError } from '../errors';
import type { DeploymentManifest } from '../store/types';
import {
  isolateApi,
  isolateFailure,
  type Isolate,
  type Module,
  type ExternalCopy,
  type CachedDataResult,
} from '../host/isolate-api';
import type { Sandbox } from '../host/types';
import { BuiltinLinker, isBuiltinModule, preloadsFor } from './builtins';

export type CodeCacheResult = 'hit' | 'miss' | 'rejected';

export interface ModuleSource {
  read(modulePath: string): Promise<Buffer>;
  readCache(modulePath: string): Promise<Buffer | null>;
  /** a new cache was produced (missing or rejected before); storing it must never fail the load */
  writeCache(modulePath: string, data: Buffer): void;
}

export interface LoadOptions {
  /** wall time the deployment's top-level code may run */
  startupTimeoutMs: number;
  /** CPU time it may use (limits.startupCpuMs); default: the wall time */
  startupCpuMs?: number;
  onCodeCache?(result: CodeCacheResult): void;
}

/** compiling done on the calling thread before the rest moves to the isolate's thread (ms) */
const compileSyncMs = 4;
/** reads of one cold start in flight at once */
const readsAtOnce = 16;

/** `work` over every item, at most `readsAtOnce` at a time; results in the items' order */
async function inTurns<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(readsAtOnce, items.length) }, lane));
  return out;
}

/** The module's URL inside the isolate: shows in stack traces, and maps back to the file path. */
export const moduleUrl = (modulePath: string) => `file:///${modulePath}`;

const toArrayBuffer = (buf: Buffer): ArrayBuffer =>
  buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;

/** the stored code cache of a module; an unreadable one is a miss, never a failed start */
async function readCache(source: ModuleSource, modulePath: string): Promise<Buffer | null> {
  try {
    return await source.readCache(modulePath);
  } catch {
    return null;
  }
}

async function compileWithCache<T extends CachedDataResult>(
  compile: (options: {
    filename: string;
    cachedData?: ExternalCopy<ArrayBuffer>;
    produceCachedData: boolean;
  }) => T | Promise<T>,
  modulePath: string,
  cache: Buffer | null,
  source: ModuleSource,
  options: LoadOptions,
): Promise<T> {
  const { ExternalCopy } = isolateApi();
  const compiled = await compile({
    filename: moduleUrl(modulePath),
    cachedData: cache?.length ? new ExternalCopy(toArrayBuffer(cache)) : undefined,
    produceCachedData: true,
  });
  const result: CodeCacheResult = !cache?.length ? 'miss' : compiled.cachedDataRejected ? 'rejected' : 'hit';
  options.onCodeCache?.(result);
  if (result !== 'hit' && compiled.cachedData) {
    const data = Buffer.from(compiled.cachedData.copy());
    compiled.cachedData.release();
    if (data.length) source.writeCache(modulePath, data);
  }
  return compiled;
}

/** Where `specifier`, imported by `referrer`, lives inside the deployment. */
export function resolveSpecifier(
  specifier: string,
  referrer: string,
  files: ReadonlySet<string>,
  importMap: Record<string, string> = {},
): string {
  const mapped = importMap[specifier];
  if (mapped !== undefined && files.has(mapped)) return mapped;
  if (specifier.startsWith('./') || specifier.startsWith('../') || specifier.startsWith('/')) {
    const base = specifier.startsWith('/')
      ? specifier.slice(1)
      : path.posix.join(path.posix.dirname(referrer), specifier);
    const target = path.posix.normalize(base);
    if (!target.startsWith('../')) {
      for (const candidate of [target, `${target}.js`, `${target}.mjs`, `${target}/index.js`])
        if (files.has(candidate)) return candidate;
    }
  }
  throw new DeploymentLoadError(
    'ISLET_MODULE_NOT_FOUND',
    `${referrer} imports '${specifier}', which is neither a module of the deployment nor in its import map`,
  );
}

function startupError(err: unknown, manifest: DeploymentManifest, timeoutMs: number, cpuMs: number): Error {
  if (err instanceof DeploymentLoadError) return err;
  const stack = (err as { isolateStack?: string; stack?: string })?.isolateStack ?? (err as Error)?.stack;
  switch (isolateFailure(err)) {
    case 'wall':
      return new DeploymentLoadError(
        'ISLET_STARTUP_TIMEOUT',
        `top-level code of ${manifest.entry} did not finish within ${timeoutMs} ms`,
        stack,
      );
    case 'cpu':
      return new DeploymentLoadError(
        'ISLET_STARTUP_TIMEOUT',
        `top-level code of ${manifest.entry} used more than ${cpuMs} ms of CPU time (the startup CPU limit, ` +
          'limits.startupCpuMs)',
        stack,
      );
    case 'memory':
    case 'disposed':
      return new DeploymentLoadError(
        'ISLET_STARTUP_MEMORY',
        `top-level code of ${manifest.entry} exceeded the isolate memory limit`,
        stack,
      );
  }
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new DeploymentLoadError('ISLET_STARTUP_FAILED', `loading ${manifest.entry} failed: ${message}`, stack);
}

/** Loads `manifest` into `sandbox` (whose context lives in `isolate`); throws DeploymentLoadError. */
export async function loadDeployment(
  isolate: Isolate,
  sandbox: Sandbox,
  manifest: DeploymentManifest,
  source: ModuleSource,
  options: LoadOptions,
): Promise<void> {
  const timeout = options.startupTimeoutMs;
  const cpuTimeout = options.startupCpuMs ?? timeout;
  try {
    if (manifest.format === 'script') {
      const code = (await source.read(manifest.entry)).toString('utf8');
      const cache = await readCache(source, manifest.entry);
      const script = await compileWithCache(
        (o) => isolate.compileScriptSync(code, o),
        manifest.entry,
        cache,
        source,
        options,
      );
      const preloads = preloadsFor(manifest.compatibility, () => [code], `${manifest.tenant}/${manifest.id}`);
      if (preloads.length > 0) {
        const linker = new BuiltinLinker(isolate);
        await linker.prepare(
          sandbox.context,
          (ns) => sandbox.bindModule(ns),
          preloads,
          (m) => m.evaluate({ timeout, cpuTimeout }),
        );
      }
      await script.run(sandbox.context, { timeout, cpuTimeout, release: true });
      await bindHandler(() => sandbox.bindScript(), manifest);
      return;
    }
    const files = new Set(manifest.modules.map((m) => m.path));
    if (!files.has(manifest.entry))
      throw new DeploymentLoadError(
        'ISLET_MODULE_NOT_FOUND',
        `entry ${manifest.entry} is not among the deployment's modules`,
      );
    // every file and code cache read up front (the store reads the deployment's record once for
    // all of them), a few at a time: thousands of reads completing in one turn of the event loop
    // held it for most of a second; then compiled one after the other
    const [sources, caches] = await Promise.all([
      inTurns(manifest.modules, async (m) => [m.path, (await source.read(m.path)).toString('utf8')] as const),
      inTurns(manifest.modules, async (m) => [m.path, await readCache(source, m.path)] as const),
    ]);
    const cacheOf = new Map(caches);
    const byPath = new Map<string, Module>();
    const pathOf = new Map<Module, string>();
    // Compile only what the entry reaches, following static imports breadth-first, so an unused
    // file in the upload costs nothing at cold start.
    const code = new Map(sources);
    // islet's built-in modules (node:*, cloudflare:workers): compiled only when imported
    let builtins: BuiltinLinker | null = null;
    const queue = [manifest.entry];
    const compile = (modulePath: string, sync: boolean) =>
      compileWithCache(
        (o) =>
          sync ? isolate.compileModuleSync(code.get(modulePath)!, o) : isolate.compileModule(code.get(modulePath)!, o),
        modulePath,
        cacheOf.get(modulePath) ?? null,
        source,
        options,
      );
    const add = (modulePath: string, module: Module) => {
      byPath.set(modulePath, module);
      pathOf.set(module, modulePath);
      for (const spec of module.dependencySpecifiers) {
        if (isBuiltinModule(spec)) (builtins ??= new BuiltinLinker(isolate)).module(spec);
        else queue.push(resolveSpecifier(spec, modulePath, files, manifest.importMap));
      }
    };
    // A deployment of a few modules compiles here at once (a thread hop per module would cost
    // more than it saves). Past a few milliseconds (thousands of small modules take seconds), the
    // rest compiles on the isolate's own thread, a wave of imports at a time, and links there:
    // the event loop stays free for other tenants' requests meanwhile.
    const syncUntil = performance.now() + compileSyncMs;
    let offThread = false;
    for (let next = 0; next < queue.length; ) {
      if (!offThread && performance.now() < syncUntil) {
        const modulePath = queue[next++]!;
        if (!byPath.has(modulePath)) add(modulePath, await compile(modulePath, true));
        continue;
      }
      offThread = true;
      const wave = [...new Set(queue.slice(next))].filter((p) => !byPath.has(p));
      next = queue.length;
      const modules = await Promise.all(wave.map((p) => compile(p, false)));
      for (const [i, p] of wave.entries()) add(p, modules[i]!);
    }
    const entry = byPath.get(manifest.entry)!;
    const reached = () => [...byPath.keys()].map((p) => code.get(p)!);
    const preloads = preloadsFor(manifest.compatibility, reached, `${manifest.tenant}/${manifest.id}`);
    if (preloads.length > 0) builtins ??= new BuiltinLinker(isolate);
    // before any tenant code: built-ins connected to the runtime, preloads (globals) evaluated
    if (builtins) {
      await builtins.prepare(
        sandbox.context,
        (ns) => sandbox.bindModule(ns),
        preloads,
        (m) => m.evaluate({ timeout }),
      );
    }
    const resolve = (specifier: string, referrer: Module) => {
      if (builtins?.owns(referrer)) return builtins.resolve(specifier, referrer);
      if (isBuiltinModule(specifier)) return builtins!.module(specifier);
      const from = pathOf.get(referrer) ?? manifest.entry;
      return byPath.get(resolveSpecifier(specifier, from, files, manifest.importMap))!;
    };
    if (offThread) await entry.instantiate(sandbox.context, resolve);
    else entry.instantiateSync(sandbox.context, resolve);
    await entry.evaluate({ timeout, cpuTimeout });
    await bindHandler(() => sandbox.bindModule(entry.namespace), manifest);
  } catch (err) {
    throw startupError(err, manifest, timeout, cpuTimeout);
  }
}

async function bindHandler(bind: () => unknown, manifest: DeploymentManifest): Promise<void> {
  try {
    await bind();
  } catch (err) {
    if (isolateFailure(err)) throw err;
    const why = err instanceof Error ? err.message : String(err);
    const expected =
      manifest.format === 'script'
        ? "expected addEventListener('fetch', ...)"
        : 'expected export default { fetch(request, env, ctx) }';
    throw new DeploymentLoadError(
      'ISLET_NO_FETCH_HANDLER',
      `${manifest.entry} has no fetch handler (${expected}): ${why}`,
    );
  }
}
