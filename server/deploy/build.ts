// Turns an upload (path -> bytes, an entry, options) into a deployment: the manifest and the
// files to store. esbuild compiles TypeScript/JSX and walks the module graph through islet's own
// resolver (resolve.ts), so only uploaded files are ever read.
//
// Two shapes come out:
// - linked modules (default): each of the tenant's own modules stays a module at its own path
//   (extension made `.js`), with every import specifier rewritten to `/<path of the imported
//   module>`, so the isolate's linker only looks strings up in the manifest. A
//   package under node_modules becomes one module per imported entry (its internals bundled in).
// - one bundle (`bundle: true`), or one classic script when the entry has no exports and
//   registers `addEventListener('fetch', ...)`.
// Each module gets a source map beside it (`<module>.map`) whose `sources` are the tenant's own
// paths, so errors can be reported at the tenant's file:line.
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import * as esbuild from 'esbuild';
import type { DeploymentManifest, ModuleRecord } from '../store/types';
import { DeployError } from '../errors';
import { defaultUploadLimits, formatBytes, type UploadLimits } from './limits';
import { normalizeUploadPath } from './paths';
import { Resolver } from './resolve';
import { builtinImport, builtinRequireLoader, checkBuiltinUse } from './builtin-imports';
import { UploadFs } from './upload-fs';
import { applyWrangler } from './wrangler/apply';

export interface BuildOptions {
  /** entry module path; found from package.json `main` or index.* when absent */
  entry?: string;
  bundle?: boolean;
  routes?: string[];
  compatibility?: Record<string, unknown>;
  limits?: Partial<UploadLimits>;
  /** most modules the deployment may have (the tenant's quota, deploy/quota.ts); default: no bound */
  maxModules?: number;
  /** operator-side folders only: a node_modules folder on the host that bare imports may use */
  hostNodeModules?: string;
}

export interface Build {
  manifest: DeploymentManifest;
  files: Map<string, Buffer>;
  /** the files the build read (sources, package.json files, import map, tsconfig), from the
   *  upload or the host's node_modules, under their upload paths: uploading only these builds
   *  the same deployment */
  inputs: Map<string, Buffer>;
}

const namespace = 'upload';
/** entry points given to one esbuild run when building linked modules */
const entryPointsPerRun = 64;
const codeExtensions = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;
const defaultEntries = [
  'index.ts',
  'index.tsx',
  'index.js',
  'index.mjs',
  'index.jsx',
  'src/index.ts',
  'src/index.js',
  'worker.ts',
  'worker.js',
];

export function newDeploymentId(): string {
  // time first so ids sort by creation; random tail so concurrent uploads never collide
  return `${Date.now().toString(36)}-${randomBytes(5).toString('hex')}`;
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function loaderFor(file: string): esbuild.Loader {
  const ext = path.posix.extname(file);
  switch (ext) {
    case '.ts':
    case '.mts':
    case '.cts':
      return 'ts';
    case '.tsx':
      return 'tsx';
    case '.jsx':
      return 'jsx';
    case '.json':
      return 'json';
    case '.txt':
    case '.html':
    case '.css':
    case '.svg':
      return 'text';
    case '.wasm':
    case '.bin':
      return 'binary';
    default:
      return 'js';
  }
}

/** where a source module lives once built: the same path with a `.js` extension */
function outputPath(source: string): string {
  const ext = path.posix.extname(source);
  if (ext === '.js') return source;
  return (ext ? source.slice(0, -ext.length) : source) + '.js';
}

function location(message: esbuild.Message): string {
  const loc = message.location;
  // only places inside the upload are shown: anything else would be a path on the server
  if (!loc?.file.startsWith(`${namespace}:`)) return '';
  return `${loc.file.slice(namespace.length + 1)}:${loc.line}:${loc.column + 1}: `;
}

function describe(messages: esbuild.Message[]): string {
  return messages.map((m) => `${location(m)}${m.text}`).join('\n');
}

/** checks paths and sizes of what was uploaded; returns the files under normalized paths */
export function checkUpload(files: Map<string, Buffer>, limits: UploadLimits): Map<string, Buffer> {
  if (files.size === 0) throw new DeployError('ISLET_DEPLOY_UPLOAD_EMPTY', 'the upload contains no files');
  if (files.size > limits.maxFiles) {
    throw new DeployError(
      'ISLET_DEPLOY_UPLOAD_TOO_LARGE',
      `the upload has ${files.size} files, more than the limit of ${limits.maxFiles}`,
    );
  }
  const out = new Map<string, Buffer>();
  let total = 0;
  for (const [raw, data] of files) {
    const p = normalizeUploadPath(raw, 'upload');
    if (out.has(p)) throw new DeployError('ISLET_DEPLOY_UPLOAD_BAD_PATH', `upload: file '${p}' appears twice`);
    if (data.length > limits.maxFileBytes) {
      throw new DeployError(
        'ISLET_DEPLOY_UPLOAD_TOO_LARGE',
        `file '${p}' is ${formatBytes(data.length)}, more than the per-file limit of ` +
          `${formatBytes(limits.maxFileBytes)}`,
      );
    }
    total += data.length;
    if (total > limits.maxDeploymentBytes) {
      throw new DeployError(
        'ISLET_DEPLOY_UPLOAD_TOO_LARGE',
        `the upload is larger than the deployment limit of ${formatBytes(limits.maxDeploymentBytes)}`,
      );
    }
    out.set(p, data);
  }
  return out;
}

function findEntry(fs: UploadFs, files: Map<string, Buffer>, requested: string | undefined): string {
  if (requested) {
    const entry = normalizeUploadPath(requested, 'entry');
    if (!files.has(entry))
      throw new DeployError(
        'ISLET_DEPLOY_ENTRY_NOT_FOUND',
        `entry '${entry}' is not in the upload (files: ` +
          `${[...files.keys()].slice(0, 10).join(', ')}${files.size > 10 ? ', ...' : ''})`,
      );
    return entry;
  }
  const pkg = files.get('package.json');
  if (pkg) {
    try {
      const main = JSON.parse(pkg.toString('utf8')).main;
      if (typeof main === 'string') {
        const entry = normalizeUploadPath(main, 'package.json main');
        if (fs.isFile(entry)) return entry;
      }
    } catch {
      // an unreadable package.json is reported by the resolver if anything needs it
    }
  }
  for (const candidate of defaultEntries) if (files.has(candidate)) return candidate;
  const code = [...files.keys()].filter((p) => codeExtensions.test(p) && !p.startsWith('node_modules/'));
  if (code.length === 1) return code[0]!;
  throw new DeployError(
    'ISLET_DEPLOY_ENTRY_NOT_FOUND',
    `no entry module: pass 'entry' (one of ${code.slice(0, 10).join(', ') || 'no code files found'}) or add ` +
      `index.ts / index.js`,
  );
}

interface Edge {
  specifier: string;
  importer: string;
  target: string;
  /** the import stays an import between two modules of the deployment (linked mode) */
  linked: boolean;
  /** reached through a package name or the import map */
  bare: boolean;
}

/** an import becomes a link between deployment modules when it is an ES import from the tenant's
 *  own code, or a bare import (a package entry); relative imports inside a package are bundled */
function isLinked(kind: esbuild.ImportKind, importer: string, bare: boolean): boolean {
  if (kind !== 'import-statement' && kind !== 'dynamic-import') return false;
  return bare || !importer.split('/').includes('node_modules');
}

function uploadPlugin(
  fs: UploadFs,
  resolver: Resolver,
  mode: 'bundle' | 'link',
  edges: Edge[],
  builtins = new Set<string>(),
): esbuild.Plugin {
  return {
    name: 'islet-upload',
    setup(build) {
      builtinRequireLoader(build);
      build.onResolve({ filter: /.*/ }, (args) => {
        // esbuild hands entry points that look like package paths back with a `./` in front
        if (args.kind === 'entry-point') return { path: args.path.replace(/^\.\//, ''), namespace };
        let resolved: ReturnType<Resolver['resolve']>;
        try {
          resolved = resolver.resolve(args.path, args.importer);
        } catch (error) {
          // a thrown error would be located in islet's own code; say where in the upload instead
          resolved = {
            error: `cannot resolve '${args.path}' imported by ${args.importer}: ${(error as Error).message}`,
          };
        }
        if ('error' in resolved) return { errors: [{ text: resolved.error }] };
        if ('builtin' in resolved) return builtinImport(resolved.builtin, args.kind, builtins);
        if (mode === 'bundle') return { path: resolved.path, namespace };
        const linked = isLinked(args.kind, args.importer, resolved.bare);
        edges.push({
          specifier: args.path,
          importer: args.importer,
          target: resolved.path,
          linked,
          bare: resolved.bare,
        });
        // '/<path>' names a module of the deployment by its root path, never mistaken for a package
        return linked ? { path: '/' + outputPath(resolved.path), external: true } : { path: resolved.path, namespace };
      });
      build.onLoad({ filter: /.*/, namespace }, (args) => {
        const contents = fs.read(args.path);
        if (!contents) return { errors: [{ text: `'${args.path}' is not in the upload` }] };
        return { contents, loader: loaderFor(args.path) };
      });
    },
  };
}

function commonOptions(tsconfigRaw: string | undefined): esbuild.BuildOptions {
  return {
    bundle: true,
    write: false,
    metafile: true,
    platform: 'neutral',
    target: 'es2022',
    sourcemap: 'external',
    sourcesContent: true,
    logLevel: 'silent',
    charset: 'utf8',
    legalComments: 'none',
    ...(tsconfigRaw ? { tsconfigRaw } : {}),
  };
}

/** fixes a map's `sources` to the tenant's own paths (esbuild names them `upload:<path>`) */
function fixSourceMap(map: Uint8Array): Buffer {
  const parsed = JSON.parse(Buffer.from(map).toString('utf8')) as { sources: string[] };
  parsed.sources = parsed.sources.map((s) => {
    const at = s.indexOf(`${namespace}:`);
    return at >= 0 ? s.slice(at + namespace.length + 1) : s;
  });
  return Buffer.from(JSON.stringify(parsed));
}

/** what esbuild's JavaScript API says when its service process died under a build */
const serviceGone = /service (was stopped|is no longer running)/;

export const buildCrashedMessage =
  'the build ran out of stack or memory compiling the upload (deeply nested expressions or brackets, ' +
  'or very large files): simplify or split the code';

async function runEsbuild(
  options: esbuild.BuildOptions,
): Promise<esbuild.BuildResult & { metafile: esbuild.Metafile; outputFiles: esbuild.OutputFile[] }> {
  try {
    return (await esbuild.build(options)) as esbuild.BuildResult & {
      metafile: esbuild.Metafile;
      outputFiles: esbuild.OutputFile[];
    };
  } catch (error) {
    const failure = error as esbuild.BuildFailure;
    if (serviceGone.test(String(failure?.message))) {
      // esbuild's Go service died (a million nested brackets overflow its stack): every later
      // call would fail the same way until the service is stopped, after which the next call
      // starts a new one. The upload that did it is refused as over the build's limits.
      await esbuild.stop().catch(() => {});
      throw new DeployError('ISLET_DEPLOY_BUILD_LIMIT', buildCrashedMessage);
    }
    if (!Array.isArray(failure.errors)) throw error;
    const unresolved = failure.errors.every((e) => e.text.startsWith('cannot resolve '));
    throw new DeployError(
      unresolved ? 'ISLET_DEPLOY_UNRESOLVED_IMPORT' : 'ISLET_DEPLOY_BUILD_FAILED',
      describe(failure.errors),
    );
  }
}

/** a classic script listens for requests or cron triggers */
function hasFetchListener(source: string): boolean {
  return /addEventListener\s*\(\s*['"`](fetch|scheduled)['"`]/.test(source);
}

/** Builds and validates an upload. Throws DeployError (status 400/413) for anything wrong with it. */
export async function build(tenant: string, uploaded: Map<string, Buffer>, given: BuildOptions = {}): Promise<Build> {
  const limits = { ...defaultUploadLimits, ...given.limits };
  const files = checkUpload(uploaded, limits);
  // a Workers project's wrangler.toml / wrangler.json(c): entry, routes, compatibility, bindings
  const wrangler = applyWrangler(tenant, files, given);
  const options = wrangler.options;
  const fs = new UploadFs(files, options.hostNodeModules);
  let resolver: Resolver;
  try {
    resolver = new Resolver(fs);
  } catch (error) {
    throw new DeployError('ISLET_DEPLOY_BUILD_FAILED', (error as Error).message);
  }
  const entry = findEntry(fs, files, options.entry);
  const tsconfigRaw = files.get('tsconfig.json')?.toString('utf8');
  const warnings: string[] = [...wrangler.warnings];

  const out = new Map<string, Buffer>();
  const modules: ModuleRecord[] = [];
  const importMap: Record<string, string> = {};
  const addModule = (modulePath: string, code: Uint8Array, map: Uint8Array | undefined) => {
    const data = Buffer.from(code);
    const record: ModuleRecord = { path: modulePath, size: data.length, sha256: sha256(data) };
    out.set(modulePath, data);
    if (map) {
      record.sourceMap = `${modulePath}.map`;
      out.set(record.sourceMap, fixSourceMap(map));
    }
    modules.push(record);
  };
  const entryPath = outputPath(entry);
  /** islet built-in modules the code imports (node:*, cloudflare:workers) */
  const builtins = new Set<string>();

  // Either shape parses every file once: syntax errors and unresolvable imports anywhere surface
  // here, and the metafile tells the entry's exports.
  let exports: string[];
  let bundled: { code: Uint8Array; map: Uint8Array | undefined } | null = null;
  if (options.bundle) {
    const result = await runEsbuild({
      ...commonOptions(tsconfigRaw),
      entryPoints: [entry],
      format: 'esm',
      outfile: entryPath,
      plugins: [uploadPlugin(fs, resolver, 'bundle', [], builtins)],
    });
    warnings.push(...result.warnings.map((w) => `${location(w)}${w.text}`));
    exports = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined)?.exports ?? [];
    bundled = {
      code: result.outputFiles.find((f) => !f.path.endsWith('.map'))!.contents,
      map: result.outputFiles.find((f) => f.path.endsWith('.map'))?.contents,
    };
  } else {
    // Linked modules, built in rounds: a round builds the modules discovered so far (each an
    // entry point written to its own output path) and finds, through the imports it leaves as
    // links, the modules of the next round.
    const outdir = '/islet-out';
    const units = new Map<string, string>([[outputPath(entry), entry]]);
    const cjsPackages = new Set<string>();
    let round = [entry];
    exports = [];
    while (round.length > 0) {
      const edges: Edge[] = [];
      // esbuild's cost grows faster than linearly with the entry points of one run, so a wide
      // round is split into runs of a bounded size
      const chunks: string[][] = [];
      for (let i = 0; i < round.length; i += entryPointsPerRun) chunks.push(round.slice(i, i + entryPointsPerRun));
      const results = await Promise.all(
        chunks.map((chunk) =>
          runEsbuild({
            ...commonOptions(tsconfigRaw),
            entryPoints: chunk.map((unit) => ({ in: unit, out: outputPath(unit).slice(0, -'.js'.length) })),
            format: 'esm',
            outdir,
            plugins: [uploadPlugin(fs, resolver, 'link', edges, builtins)],
          }),
        ),
      );
      for (const [i, result] of results.entries()) {
        warnings.push(...result.warnings.map((w) => `${location(w)}${w.text}`));
        const outputs = new Map(result.outputFiles.map((f) => [path.posix.relative(outdir, f.path), f.contents]));
        for (const unit of chunks[i]!) {
          const modulePath = outputPath(unit);
          const code = outputs.get(modulePath);
          if (!code) throw new Error(`esbuild produced no output for '${unit}'`);
          addModule(modulePath, code, outputs.get(`${modulePath}.map`));
          if (
            result.metafile.inputs[`${namespace}:${unit}`]?.format === 'cjs' &&
            unit.split('/').includes('node_modules')
          )
            cjsPackages.add(unit);
        }
        if (chunks[i]![0] === entry) {
          exports =
            Object.values(result.metafile.outputs).find((o) => o.entryPoint === `${namespace}:${entry}`)?.exports ?? [];
        }
      }
      round = [];
      for (const edge of edges) {
        if (!edge.linked) continue;
        // how bare specifiers were resolved, for people reading the manifest
        if (edge.bare) importMap[edge.specifier] = outputPath(edge.target);
        const target = outputPath(edge.target);
        const known = units.get(target);
        if (known === edge.target) continue;
        if (known !== undefined)
          throw new DeployError(
            'ISLET_DEPLOY_BUILD_FAILED',
            `'${edge.target}' and '${known}' would both become '${target}': rename one of them`,
          );
        units.set(target, edge.target);
        round.push(edge.target);
      }
      // the module bound stops the rounds early: a huge graph costs at most one round too many
      if (options.maxModules !== undefined && units.size > options.maxModules) {
        throw new DeployError(
          'ISLET_DEPLOY_QUOTA_SIZE',
          `the deployment has more than ${options.maxModules} modules (the quota of modules per deployment): ` +
            'deploy with bundle=true to make one module of it',
        );
      }
    }
    for (const unit of cjsPackages) {
      warnings.push(
        `${unit} is a CommonJS module: only its default export can be imported from linked modules; deploy ` +
          `with bundle=true to import its named exports`,
      );
    }
    modules.sort((a, b) => (a.path === entryPath ? -1 : b.path === entryPath ? 1 : a.path < b.path ? -1 : 1));
  }

  let format: DeploymentManifest['format'] = 'modules';
  if (exports.length === 0 && hasFetchListener(files.get(entry)!.toString('utf8'))) {
    format = 'script';
  } else if (!exports.includes('default')) {
    const what = exports.length === 0 ? 'exports nothing' : `exports only ${exports.map((e) => `'${e}'`).join(', ')}`;
    throw new DeployError(
      'ISLET_DEPLOY_NO_FETCH_HANDLER',
      `entry '${entry}' ${what}: a function must 'export default { fetch(request, env, ctx) { ... } }' (or, ` +
        `as a classic script, call addEventListener('fetch', ...))`,
    );
  }

  checkBuiltinUse(entry, format, exports, builtins);

  if (format === 'script') {
    // A classic script runs as one script: its imports (if any) are bundled into an IIFE.
    const script = await runEsbuild({
      ...commonOptions(tsconfigRaw),
      entryPoints: [entry],
      format: 'iife',
      outfile: entryPath,
      plugins: [uploadPlugin(fs, resolver, 'bundle', [])],
    });
    out.clear();
    modules.length = 0;
    for (const key of Object.keys(importMap)) delete importMap[key];
    addModule(
      entryPath,
      script.outputFiles.find((f) => !f.path.endsWith('.map'))!.contents,
      script.outputFiles.find((f) => f.path.endsWith('.map'))?.contents,
    );
  } else if (bundled) {
    addModule(entryPath, bundled.code, bundled.map);
  }

  const size = modules.reduce((sum, m) => sum + m.size, 0);
  if (size > limits.maxDeploymentBytes) {
    throw new DeployError(
      'ISLET_DEPLOY_UPLOAD_TOO_LARGE',
      `the built deployment is ${formatBytes(size)}, more than the deployment limit of ` +
        `${formatBytes(limits.maxDeploymentBytes)}`,
    );
  }
  const routes = options.routes ?? [];
  const hash = sha256(
    JSON.stringify({
      format,
      entry: entryPath,
      modules: [...out.keys()].sort().map((p) => [p, sha256(out.get(p)!)]),
      routes: [...routes].sort(),
      compatibility: options.compatibility ?? null,
      // only when declared, so the hash of a deployment without bindings stays what it was
      ...(wrangler.bindings ? { bindings: wrangler.bindings } : {}),
    }),
  );
  const manifest: DeploymentManifest = {
    id: newDeploymentId(),
    tenant,
    hash,
    createdAt: new Date().toISOString(),
    format,
    entry: entryPath,
    modules,
    routes,
    warnings,
    size,
    storedBytes: [...out.values()].reduce((sum, data) => sum + data.length, 0),
  };
  if (Object.keys(importMap).length > 0) manifest.importMap = importMap;
  if (options.compatibility) manifest.compatibility = options.compatibility;
  if (wrangler.bindings) manifest.bindings = wrangler.bindings as Record<string, unknown>;
  const read = ['package.json', 'tsconfig.json', 'import_map.json', ...(wrangler.file ? [wrangler.file] : [])];
  for (const name of read) if (files.has(name)) fs.used.set(name, files.get(name)!);
  return { manifest, files: out, inputs: new Map([...fs.used].sort(([a], [b]) => (a < b ? -1 : 1))) };
}
