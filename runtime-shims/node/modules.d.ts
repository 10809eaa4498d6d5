// Types for what islet's built-in modules import that ships no TypeScript types: the hidden
// internal module (runtime-shims/node/internal-module.ts) and the pure-JS Node ports they wrap.
declare module 'islet:internal' {
  export function internals(): import('../internal/builtin-internals').BuiltinInternals;
}
declare module 'events';
declare module 'util';
declare module 'util/';
declare module 'readable-stream';
declare module 'string_decoder';
declare module 'path-browserify';
declare module 'querystring-es3';
declare module 'url/';
declare module 'assert';
declare module 'html-rewriter-wasm/dist/html_rewriter.js';
declare module '*.wasm' {
  const bytes: Uint8Array;
  export default bytes;
}
declare module 'punycode/';
