// node:process
import { process } from './process-object';

export default process;
export const {
  env,
  argv,
  version,
  versions,
  platform,
  arch,
  nextTick,
  hrtime,
  cwd,
  exit,
  emitWarning,
  stdout,
  stderr,
} = process;
