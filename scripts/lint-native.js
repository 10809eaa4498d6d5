#!/usr/bin/env node
// `npm run lint:native`: checks that native/src is formatted as .clang-format says (Google
// style, 120 columns). Fix with `clang-format -i native/src/*.cc native/src/*/*.{cc,h}`.
// Without clang-format it skips with a one-line reason, except under CI=true, where it fails.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const found = spawnSync('clang-format', ['--version'], { encoding: 'utf8' });
if (found.error || found.status !== 0) {
  const reason = 'lint:native: clang-format is not installed (apt-get install -y clang-format)';
  if (process.env.CI === 'true') {
    console.error(`${reason}; it is required when CI=true`);
    process.exit(1);
  }
  console.log(`${reason}: skipped`);
  process.exit(0);
}
const files = [];
(function walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full);
    else if (/\.(cc|h)$/.test(entry.name)) files.push(full);
  }
})(path.join(root, 'native', 'src'));
const result = spawnSync('clang-format', ['--dry-run', '--Werror', ...files.sort()], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  console.error('lint:native: native/src is not formatted; run clang-format -i on the files above');
  process.exit(1);
}
console.log(`lint:native: ${files.length} files formatted as .clang-format says`);
