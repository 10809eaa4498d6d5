#!/usr/bin/env node
// `npm run bench`: runs every benchmark suite under bench/<name>/, one after another, each in
// its own Node process started with --no-node-snapshot (which isolates created by an addon
// need). A suite's entry is its compiled main.js or index.js in dist/bench/<name>/ (TypeScript)
// or bench/<name>/index.js (plain JavaScript). Suites with their own npm script because they
// take many minutes (peers: `npm run bench:peers`) only run when named.
// Usage: npm run bench [-- <suite> ...] [-- options]   e.g. npm run bench -- native shims
//        npm run bench -- serve --quick     (options, from the first one on, go to every suite run)
//        npm run bench -- --help
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const notSuites = new Set(['lib', 'results', 'charts']);
const onlyWhenNamed = new Set(['peers', 'wpt']);
const args = process.argv.slice(2);
const firstOption = args.findIndex((a) => a.startsWith('-'));
const named = firstOption === -1 ? args : args.slice(0, firstOption);
const passed = firstOption === -1 ? [] : args.slice(firstOption);

function entryOf(name) {
  for (const candidate of [
    path.join(root, 'dist', 'bench', name, 'main.js'),
    path.join(root, 'dist', 'bench', name, 'index.js'),
    path.join(root, 'bench', name, 'index.js'),
  ]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

const suites = fs
  .readdirSync(path.join(root, 'bench'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && !notSuites.has(entry.name))
  .map((entry) => entry.name)
  .filter((name) => (named.length ? named.includes(name) : !onlyWhenNamed.has(name)))
  .sort();

const all = fs
  .readdirSync(path.join(root, 'bench'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && !notSuites.has(entry.name))
  .map((entry) => entry.name)
  .sort();
if (named.length === 0 && (passed.includes('--help') || passed.includes('-h'))) {
  console.log(`usage: npm run bench [-- <suite> ...] [options passed to each suite]

Runs the benchmark suites under bench/ (all but the long ones when none is named), each in its own
Node process with --no-node-snapshot. Build first: npm run build.

suites: ${all.join(', ')}${[...onlyWhenNamed].length ? ` (${[...onlyWhenNamed].join(', ')} only when named)` : ''}
e.g.    npm run bench -- serve --quick      a short run of bench/serve
        npm run bench -- native shims       two suites`);
  process.exit(0);
}

for (const name of named) {
  if (!suites.includes(name)) {
    console.error(`bench: no suite named '${name}' under bench/ (suites: ${all.join(', ')}; options go after them)`);
    process.exit(1);
  }
}

let failed = 0;
for (const name of suites) {
  const entry = entryOf(name);
  if (!entry) {
    console.error(
      `bench/${name}: no entry point (dist/bench/${name}/main.js or index.js): run \`npm run build\` first`,
    );
    failed++;
    continue;
  }
  console.log(`\n=== bench/${name} (${path.relative(root, entry)}) ===`);
  const result = spawnSync(process.execPath, ['--no-node-snapshot', '--expose-gc', entry, ...passed], {
    stdio: 'inherit',
    cwd: root,
  });
  if (result.status !== 0) {
    console.error(`bench/${name} failed (exit ${result.status ?? result.signal})`);
    failed++;
  }
}
for (const name of suites.filter((s) => onlyWhenNamed.has(s) && !named.includes(s))) void name;
if (!named.length && fs.existsSync(path.join(root, 'bench', 'peers')))
  console.log('\n(bench/peers is long: run it with `npm run bench:peers` or `npm run bench -- peers`)');
process.exit(failed ? 1 : 0);
