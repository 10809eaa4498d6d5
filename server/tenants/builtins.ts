// islet's built-in modules inside a tenant isolate: node:* (nodejs_compat), cloudflare:workers,
// and the modules evaluated before a deployment's code when it needs them (the nodejs_compat
// globals, HTMLRewriter). scripts/build-builtins.js builds them from runtime-shims/ into
// dist/runtime-shims/builtins/ with a registry.json naming each one's file.
//
// A BuiltinLinker serves one deployment load: it compiles a built-in only when the deployment
// imports it (with a code cache kept for the process, so the second isolate compiles nothing), and
// resolves the imports built-ins make among themselves (shared chunks, `islet:internal`). Tenant
// modules can import only registry names; `islet:internal` resolves for built-ins alone. Before
// any tenant code runs, `prepare` evaluates islet:internal and hands its namespace to the
// bootstrap (through bindModule), which connects it to what built-ins need from the runtime.
import fs from 'node:fs';
import path from 'node:path';
import type { Context, ExternalCopy, Isolate, Module } from '../host/isolate-api';

const builtinsDir = path.resolve(__dirname, '..', '..', 'runtime-shims', 'builtins');

export interface BuiltinRegistry {
  /** module id (node:buffer, cloudflare:workers, node:fs...) -> file under builtinsDir */
  modules: Record<string, string>;
  /** ids whose every export throws "not available in islet" */
  unsupported: string[];
  /** modules evaluated before a deployment's own code (islet:node-globals, islet:html-rewriter) */
  preload: Record<string, string>;
  /** the hidden module built-ins reach the runtime through */
  internal: string;
}

let registry: BuiltinRegistry | null = null;

export function builtinRegistry(): BuiltinRegistry {
  if (registry === null) {
    try {
      registry = JSON.parse(fs.readFileSync(path.join(builtinsDir, 'registry.json'), 'utf8')) as BuiltinRegistry;
    } catch (error) {
      throw Object.assign(
        new Error(`islet's built-in modules are missing from ${builtinsDir}: run \`npm run build\``),
        { code: 'ISLET_NO_BUILTINS', cause: error },
      );
    }
  }
  return registry;
}

/** true for the ids a tenant module may import: node:*, cloudflare:workers (the deploy build
 *  writes every Node built-in name as node:<name>, so nothing else needs the registry) */
export function isBuiltinModule(specifier: string): boolean {
  if (!specifier.startsWith('node:') && !specifier.startsWith('cloudflare:')) return false;
  return Object.hasOwn(builtinRegistry().modules, specifier);
}

/** file -> the id it is known by in stack traces (node:buffer), for the registry's modules */
let urls: Map<string, string> | null = null;
function urlOf(file: string): string {
  if (urls === null) {
    const r = builtinRegistry();
    urls = new Map();
    for (const [id, f] of Object.entries({ ...r.preload, ...r.modules })) if (!urls.has(f)) urls.set(f, id);
  }
  return urls.get(file) ?? `islet:builtins/${file}`;
}

/**
 * Globals Workers has that most deployments never use live in built-in modules rather than in
 * every isolate's bootstrap: a deployment whose code names one gets its module evaluated before
 * its own code. (A name assembled at run time is not seen: write HTMLRewriter, not 'HTML' + ...)
 * Order matters: md5 wraps crypto.subtle.digest before DigestStream captures it.
 */
const byMention: [string, string[]][] = [
  ['islet:md5', ['MD5', 'md5']],
  ['islet:digest-stream', ['DigestStream']],
  ['islet:event-source', ['EventSource']],
  ['islet:html-rewriter', ['HTMLRewriter']],
];

/**
 * Whether a deployment gets the Node globals (Buffer, process, global, setImmediate), by
 * Workers' rules for its compatibility settings (wrangler's names): the `nodejs_compat_v2` flag;
 * or `nodejs_compat` with a compatibility date from 2024-09-23 on (or no date: islet's behaviour
 * is today's); or a date from 2026-08-04 on, when Workers turned both on by default; never
 * with `no_nodejs_compat_v2`.
 */
export function nodeGlobals(compatibility: Record<string, unknown> | undefined): boolean {
  const raw = compatibility?.compatibility_flags;
  const flags = Array.isArray(raw) ? raw.filter((flag): flag is string => typeof flag === 'string') : [];
  if (flags.includes('no_nodejs_compat_v2')) return false;
  if (flags.includes('nodejs_compat_v2')) return true;
  const date = typeof compatibility?.compatibility_date === 'string' ? compatibility.compatibility_date : null;
  if (date !== null && date >= '2026-08-04') return true;
  return flags.includes('nodejs_compat') && (date === null || date >= '2024-09-23');
}

/** what a deployment mentions, by deployment: scanning its sources is done once per process */
const mentionsOf = new Map<string, string[]>();
const maxRemembered = 10_000;

/** the modules a deployment needs evaluated before its own code */
export function preloadsFor(
  compatibility: Record<string, unknown> | undefined,
  sources: () => Iterable<string>,
  deployment?: string,
): string[] {
  const preloads: string[] = [];
  if (nodeGlobals(compatibility)) preloads.push('islet:node-globals');
  let mentioned = deployment === undefined ? undefined : mentionsOf.get(deployment);
  if (mentioned === undefined) {
    mentioned = [];
    const texts = [...sources()];
    for (const [id, names] of byMention)
      if (texts.some((text) => names.some((name) => text.includes(name)))) mentioned.push(id);
    if (deployment !== undefined) {
      if (mentionsOf.size >= maxRemembered) mentionsOf.clear();
      mentionsOf.set(deployment, mentioned);
    }
  }
  preloads.push(...mentioned);
  return preloads;
}

/** source text and V8 code cache of each built-in file, shared by every isolate of the process */
const sourceOf = new Map<string, string>();
const cacheOf = new Map<string, ExternalCopy<ArrayBuffer>>();

function readSource(file: string): string {
  let source = sourceOf.get(file);
  if (source === undefined) {
    source = fs.readFileSync(path.join(builtinsDir, file), 'utf8');
    sourceOf.set(file, source);
  }
  return source;
}

export class BuiltinLinker {
  #isolate: Isolate;
  #byFile = new Map<string, Module>();
  #fileOf = new Map<Module, string>();
  #registry = builtinRegistry();

  constructor(isolate: Isolate) {
    this.#isolate = isolate;
  }

  /** whether a built-in was compiled for this load */
  get used(): boolean {
    return this.#byFile.size > 0;
  }

  owns(module: Module): boolean {
    return this.#fileOf.has(module);
  }

  /** the compiled module for a registry id (node:buffer), its own imports compiled too */
  module(id: string): Module {
    const file = this.#registry.modules[id] ?? this.#registry.preload[id];
    if (file === undefined) throw new Error(`'${id}' is not one of islet's built-in modules`);
    return this.#compile(file);
  }

  /** resolves an import made by a built-in module */
  resolve(specifier: string, referrer: Module): Module {
    const from = this.#fileOf.get(referrer)!;
    return this.#compile(this.#target(specifier, from));
  }

  #target(specifier: string, from: string): string {
    if (specifier === 'islet:internal') return this.#registry.internal;
    if (specifier.startsWith('./') || specifier.startsWith('../'))
      return path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
    const file = this.#registry.modules[specifier];
    if (file !== undefined) return file;
    throw new Error(`built-in module ${from} imports '${specifier}', which islet does not have`);
  }

  #compile(file: string): Module {
    const known = this.#byFile.get(file);
    if (known) return known;
    const cachedData = cacheOf.get(file);
    const module = this.#isolate.compileModuleSync(readSource(file), {
      filename: urlOf(file),
      cachedData,
      produceCachedData: cachedData === undefined,
    });
    if (module.cachedDataRejected) cacheOf.delete(file);
    else if (cachedData === undefined && module.cachedData) cacheOf.set(file, module.cachedData);
    this.#byFile.set(file, module);
    this.#fileOf.set(module, file);
    for (const specifier of module.dependencySpecifiers) this.#compile(this.#target(specifier, file));
    return module;
  }

  /**
   * Runs before the deployment's code: connects islet:internal to the bootstrap (when any
   * built-in is in use) and evaluates the preloads. `bindModule` is the sandbox's entry;
   * `evaluate` runs one module (the loader awaits `module.evaluate`; a caller that evaluates
   * synchronously gets everything done before prepare returns).
   */
  prepare(
    context: Context,
    bindModule: (namespace: Module['namespace']) => unknown,
    preloads: string[],
    evaluate: (module: Module) => unknown,
  ): void | Promise<void> {
    const modules = preloads.map((id) => this.module(id));
    if (!this.used) return;
    const internal = this.#compile(this.#registry.internal);
    const resolve = (specifier: string, referrer: Module) => this.resolve(specifier, referrer);
    const steps = [internal, ...modules];
    const run = (index: number): void | Promise<void> => {
      if (index === steps.length) return;
      const module = steps[index]!;
      module.instantiateSync(context, resolve);
      const next = () => {
        if (module === internal) bindModule(internal.namespace);
        return run(index + 1);
      };
      const evaluated = evaluate(module);
      return evaluated instanceof Promise ? evaluated.then(next) : next();
    };
    return run(0);
  }
}
