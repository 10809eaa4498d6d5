#!/usr/bin/env node
// Runs every compiled test file under dist/test with Node's built-in test runner.
// Isolates created by our addon need V8 to boot without Node's snapshot, so the flag is
// passed here (and through NODE_OPTIONS to the per-file child processes the runner spawns).
// Usage: npm test [-- <path filter> ...]   e.g. npm test -- native shims/url
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const testRoot = path.join(root, 'dist', 'test');
const filters = process.argv.slice(2);

function walk(dir, out) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else if (entry.name.endsWith('.test.js')) out.push(full);
  }
  return out;
}

if (!fs.existsSync(testRoot)) {
  console.error('dist/test does not exist: run `npm run build` first (npm test does it for you).');
  process.exit(1);
}
let files = walk(testRoot, []).sort();
if (filters.length) files = files.filter((f) => filters.some((flt) => path.relative(testRoot, f).includes(flt)));
if (files.length === 0) {
  console.error(`no test files matched ${filters.join(' ') || '(all)'}`);
  process.exit(1);
}
const nodeOptions = [process.env.NODE_OPTIONS, '--no-node-snapshot'].filter(Boolean).join(' ');
const result = spawnSync(
  process.execPath,
  [
    '--no-node-snapshot',
    '--test',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    `--test-reporter=${path.join(__dirname, 'skip-summary-reporter.mjs')}`,
    '--test-reporter-destination=stdout',
    ...files,
  ],
  { stdio: 'inherit', cwd: root, env: { ...process.env, NODE_OPTIONS: nodeOptions } },
);
process.exit(result.status ?? 1);
