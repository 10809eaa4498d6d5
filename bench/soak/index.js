#!/usr/bin/env node
// `node bench/soak/index.js [options]`: the soak benchmark without npm. The harness is
// TypeScript compiled to dist/bench/soak/ (npm run build); this file only starts it, so the
// command works from a checkout as the README writes it. Options: see bench/soak/main.ts.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const entry = path.resolve(__dirname, '../../dist/bench/soak/main.js');
if (!fs.existsSync(entry)) {
  console.error(`bench/soak: ${path.relative(process.cwd(), entry)} is missing: run \`npm run build\` first`);
  process.exit(1);
}
require(entry);
