// Shared by the native suites: the module under test, and whether it is islet's addon (true)
// or the reference library substituted by scripts/reference-isolate.js (false). Tests of the
// shared isolate API run on both; tests of islet's extensions are skipped on the reference.
// `import = require` (not `import * as`) so the reference library's exports are used as they are.
export import ivm = require('../../native');
export const isIslet = typeof (ivm as { nodeModuleVersion?: unknown }).nodeModuleVersion === 'number';
export const isletOnly = { skip: isIslet ? false : 'islet extension (not in the reference library)' };

/** Runs `fn` with a fresh isolate and context, disposing the isolate afterwards. */
export async function withContext<T>(
  fn: (isolate: ivm.Isolate, context: ivm.Context) => T | Promise<T>,
  memoryLimit = 32,
): Promise<T> {
  const isolate = new ivm.Isolate({ memoryLimit });
  try {
    return await fn(isolate, isolate.createContextSync());
  } finally {
    if (!isolate.isDisposed) isolate.dispose();
  }
}
