#!/usr/bin/env node
// Bundles runtime-shims/ (TypeScript that runs inside tenant isolates) into one classic script,
// dist/runtime-shims/bootstrap.js, with esbuild. The isolate has no module loader for the
// bootstrap and no Node, so the bundle is a self-contained IIFE.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const entry = path.join(root, 'runtime-shims', 'index.ts');
const outfile = path.join(root, 'dist', 'runtime-shims', 'bootstrap.js');
if (!fs.existsSync(entry)) {
  process.exit(0);
}
esbuild.buildSync({
  entryPoints: [entry],
  outfile,
  bundle: true,
  format: 'iife',
  platform: 'neutral',
  target: 'es2022',
  minify: true,
  sourcemap: 'external',
  legalComments: 'none',
  logLevel: 'warning',
});
