// The module islet evaluates before a deployment's own code when the deployment has the
// `nodejs_compat` (or `nodejs_compat_v2`) compatibility flag: the globals `Buffer`, `process`,
// `global` and `setImmediate`/`clearImmediate`, as Workers defines them under that flag.
import { Buffer } from './buffer';
import { process } from './process-object';
import { setImmediate, clearImmediate } from './timers';

const define = (name: string, value: unknown) =>
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
define('Buffer', Buffer);
define('process', process);
define('global', globalThis);
define('setImmediate', setImmediate);
define('clearImmediate', clearImmediate);
