// How the deploy build treats imports of islet's built-in modules (node:*, cloudflare:workers;
// resolve.ts tells them apart): they stay imports, which the isolate's linker serves
// (server/tenants/builtins.ts), and a CommonJS `require()` of one gets a small module that
// imports it. Also the checks a deployment's use of them must pass.
import type * as esbuild from 'esbuild';
import { DeployError } from '../errors';

/** the namespace of the small modules that stand for a built-in `require()`d by CommonJS code */
const builtinRequire = 'islet-builtin-require';

/** the export name of islet:internal the runtime connects through (runtime-shims/internal/builtin-internals.ts) */
const connectExport = '__isletConnectInternals';

/** esbuild's answer for an import of built-in `id`; records it in `used` */
export function builtinImport(id: string, kind: esbuild.ImportKind, used: Set<string>): esbuild.OnResolveResult {
  used.add(id);
  if (kind === 'require-call') return { path: id, namespace: builtinRequire };
  return { path: id, external: true };
}

/**
 * `require('buffer')` in a CommonJS package: esbuild cannot turn a require of an external module
 * into an import, so the require gets a module of its own that imports the built-in and exports
 * its default export (Node's module.exports) as module.exports.
 */
export function builtinRequireLoader(build: esbuild.PluginBuild): void {
  build.onLoad({ filter: /.*/, namespace: builtinRequire }, (args) => ({
    contents: `import builtin from ${JSON.stringify(args.path)};\nmodule.exports = builtin;\n`,
    loader: 'js',
  }));
}

/** a classic script cannot import (it runs as one script), and the entry may not take the
 *  runtime's reserved export name */
export function checkBuiltinUse(
  entry: string,
  format: 'modules' | 'script',
  exports: string[],
  used: Set<string>,
): void {
  if (format === 'script' && used.size > 0) {
    throw new DeployError(
      'ISLET_DEPLOY_BUILD_FAILED',
      `entry '${entry}' is a classic script (addEventListener('fetch', ...)) and imports ${[...used].join(', ')}: ` +
        'only ES modules can import built-in modules; use export default { fetch(request, env, ctx) { ... } }',
    );
  }
  if (exports.includes(connectExport)) {
    throw new DeployError(
      'ISLET_DEPLOY_BUILD_FAILED',
      `entry '${entry}' exports '${connectExport}', a name islet reserves: rename that export`,
    );
  }
}
