// node:path (and node:path/posix): `path-browserify`, Node's POSIX path module published
// standalone. islet functions have no file system and `/` as their working directory.
import pathPackage from 'path-browserify';

const path = pathPackage as any;
path.posix ??= path;
export default path;
export const {
  resolve,
  normalize,
  isAbsolute,
  join,
  relative,
  dirname,
  basename,
  extname,
  format,
  parse,
  sep,
  delimiter,
  posix,
  toNamespacedPath,
} = path;
