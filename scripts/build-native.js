#!/usr/bin/env node
// `npm run build:native [-- --asan]`: builds islet's addon with node-gyp.
// Without options it builds native/build/Release/islet.node, the addon everything loads.
// With --asan it builds an AddressSanitizer copy into native/build-asan/ (a separate tree, so
// the normal build is left alone); run a suite on it with `npm run test:native:asan`, which
// preloads libasan into Node and points native/index.ts at that copy (ISLET_ADDON).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const native = path.join(root, 'native');
const asan = process.argv.includes('--asan');
const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');

let directory = native;
const gypArgs = [];
if (asan) {
  // node-gyp builds into <directory>/build: give it a directory of its own whose binding.gyp
  // and src are links back to native/, so both builds share one source tree.
  directory = path.join(native, 'build-asan');
  fs.mkdirSync(directory, { recursive: true });
  for (const name of ['binding.gyp', 'src']) {
    const link = path.join(directory, name);
    if (!fs.existsSync(link)) fs.symlinkSync(path.relative(directory, path.join(native, name)), link);
  }
  gypArgs.push('--', '-Dislet_asan=1');
}
const args = [nodeGyp, 'rebuild', '--directory', directory, '-j', '2', ...gypArgs];
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);
if (asan) {
  const built = path.join(directory, 'build', 'Release', 'islet.node');
  // A variable that gyp did not take leaves an ordinary build behind: refuse to call it ASan.
  const makefile = fs.readFileSync(path.join(directory, 'build', 'islet.target.mk'), 'utf8');
  if (!makefile.includes('-fsanitize=address')) {
    console.error('the AddressSanitizer flags did not reach the build (see islet_asan in native/binding.gyp)');
    process.exit(1);
  }
  console.log(`AddressSanitizer build: ${path.relative(root, built)}`);
  console.log('run the native suites on it: npm run test:native:asan');
}
