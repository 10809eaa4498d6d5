#!/usr/bin/env node
// `npm run test:native:asan [-- <filter>...]`: runs the native suites (default: test/native)
// on the AddressSanitizer build of the addon (`npm run build:native:asan` makes it). Node itself
// is not built with ASan, so the sanitizer runtime is preloaded (LD_PRELOAD); leak detection is
// off because Node and V8 keep memory until exit on purpose.
'use strict';
const { spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const addon = path.join(root, 'native', 'build-asan', 'build', 'Release', 'islet.node');
if (!fs.existsSync(addon)) {
  console.error(`no AddressSanitizer build at ${path.relative(root, addon)}: run \`npm run build:native:asan\` first`);
  process.exit(1);
}
let runtime = '';
for (const compiler of ['gcc', 'cc', 'clang']) {
  try {
    const found = execFileSync(compiler, ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
    if (found && found !== 'libasan.so' && fs.existsSync(found)) {
      runtime = fs.realpathSync(found);
      break;
    }
  } catch {
    // try the next compiler
  }
}
if (!runtime) {
  console.error('libasan.so not found (gcc -print-file-name=libasan.so): install gcc or libasan8');
  process.exit(1);
}
const filters = process.argv.slice(2);
const env = {
  ...process.env,
  ISLET_ADDON: addon,
  LD_PRELOAD: [runtime, process.env.LD_PRELOAD].filter(Boolean).join(' '),
  // V8 and Node keep memory to the end on purpose; a report must stop the process so that the
  // test that provoked it fails.
  ASAN_OPTIONS: ['detect_leaks=0', 'abort_on_error=1', 'halt_on_error=1', process.env.ASAN_OPTIONS]
    .filter(Boolean)
    .join(':'),
};
console.log(`AddressSanitizer: ${runtime}\naddon: ${path.relative(root, addon)}`);
const runner = path.join(root, 'scripts', 'run-tests.js');
const suites = filters.length ? filters : ['native/'];
const result = spawnSync(process.execPath, [runner, ...suites], { stdio: 'inherit', env, cwd: root });
process.exit(result.status ?? 1);
