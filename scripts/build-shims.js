#!/usr/bin/env node
// Bundles runtime-shims/ (TypeScript that runs inside tenant isolates) into one classic script,
// dist/runtime-shims/bootstrap.js, with esbuild. The isolate has no module loader for the
// bootstrap and no Node, so the bundle is self-contained. Its completion value is the shims'
// `install` function: the host runs the script, receives a reference to install and calls it
// with the bridge, so nothing of the bootstrap is ever reachable from the global object.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const esbuild = require('esbuild');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const entry = path.join(root, 'runtime-shims', 'index.ts');
const outfile = path.join(root, 'dist', 'runtime-shims', 'bootstrap.js');
if (!fs.existsSync(entry)) {
  process.exit(0);
}
// esbuild only strips types: type-check the shims first (runtime-shims/tsconfig.json, ~0.5 s)
const tsc = path.join(root, 'node_modules', '.bin', 'tsc');
if (fs.existsSync(tsc)) {
  const check = spawnSync(tsc, ['-p', path.join(root, 'runtime-shims')], { stdio: 'inherit' });
  if (check.status !== 0) {
    console.error('build-shims: runtime-shims does not type-check (see above)');
    process.exit(1);
  }
}
const result = esbuild.buildSync({
  entryPoints: [entry],
  bundle: true,
  write: false,
  format: 'iife',
  globalName: 'shims',
  platform: 'neutral',
  mainFields: ['module', 'main'],
  conditions: ['require', 'import', 'default'],
  target: 'es2022',
  // constructor names are observable (error.constructor.name, String(Headers)): identifiers are
  // kept rather than minified, which costs no run time (esbuild's keepNames would add a
  // defineProperty per function at every bootstrap)
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
});
// `var shims` becomes a local of the wrapper; the wrapper's value is the script's completion value
const code = `(function(){${result.outputFiles[0].text}\nreturn shims.install;})()`;
fs.mkdirSync(path.dirname(outfile), { recursive: true });
fs.writeFileSync(outfile, code);
// islet's built-in modules (node:*, cloudflare:workers, HTMLRewriter), linked only into deployments that use them
require('./build-builtins')
  .buildBuiltins()
  .catch((error) => {
    console.error(`build-shims: the built-in modules did not build: ${error.message}`);
    process.exit(1);
  });
