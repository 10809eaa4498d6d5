// Preload (`node -r ./scripts/reference-isolate.js`, or through NODE_OPTIONS) that makes
// `require('<repo>/native')` return the reference isolate library (isolated-vm, a dev
// dependency) instead of islet's addon. Used to check that a program or test written against
// the isolate API really depends only on that API, and to compare behaviour side by side.
'use strict';
const Module = require('node:module');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const nativeEntries = new Set([
  path.join(root, 'native'),
  path.join(root, 'native', 'index.js'),
  path.join(root, 'dist', 'native', 'index.js'),
]);
const originalResolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  const resolved = originalResolve.call(this, request, parent, ...rest);
  if (nativeEntries.has(resolved)) return require.resolve('isolated-vm');
  return resolved;
};
