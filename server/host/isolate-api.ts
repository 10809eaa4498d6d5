// The isolate API the sandbox uses: native/ (islet's addon), whose TypeScript face declares the
// contract of shared/reference/isolate-api.md plus islet's extensions (cpuTimeout, error codes,
// isolateStack). Imported through this one file so host/ names a single dependency on native/.
// `import x = require()` (not `import * as`): the reference library's exports are not
// enumerable, and a namespace copy made by `import *` would miss them
import nativeModule = require('../../native');
export type { Context, ExternalCopy, Isolate, Reference, Script } from '../../native';

export interface NativeApi {
  Isolate: typeof nativeModule.Isolate;
  Callback: typeof nativeModule.Callback;
  ExternalCopy: typeof nativeModule.ExternalCopy;
  Reference: typeof nativeModule.Reference;
}

// property reads at use time (not a destructured copy), so a preload that swaps the module
// (scripts/reference-isolate.js) is honoured
export const native: NativeApi = nativeModule;
