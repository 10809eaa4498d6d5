#!/usr/bin/env node
// Fails when a source line (code or comment) is longer than 120 characters. The formatter keeps
// code within the width but leaves comments and long string literals as written; this check
// covers them too. Files: what git tracks under the source folders, test fixtures excepted.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');

const MAX = 120;
const roots = [
  'server',
  'runtime-shims',
  'native/src',
  'native/index.ts',
  'bench',
  'scripts',
  'test',
  'functions',
  'bin',
];
const sourceFile = /\.(ts|tsx|js|mjs|cjs|cc|h)$/;
const files = execFileSync('git', ['ls-files', '--', ...roots], { encoding: 'utf8' })
  .split('\n')
  .filter((f) => sourceFile.test(f) && !f.startsWith('test/fixtures/') && fs.existsSync(f));
let bad = 0;
for (const file of files) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.length > MAX) {
      bad++;
      if (bad <= 50) console.error(`${file}:${i + 1}: ${line.length} characters (at most ${MAX})`);
    }
  });
}
if (bad > 0) {
  console.error(`${bad} line(s) longer than ${MAX} characters`);
  process.exit(1);
}
