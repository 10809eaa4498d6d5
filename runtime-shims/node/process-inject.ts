// Injected by the built-in build wherever a bundled package reads the free name `process`
// (util's debuglog, deprecate): islet's process object, not a global.
export { process } from './process-object';
