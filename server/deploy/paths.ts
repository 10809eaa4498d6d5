// Paths as tenants send them (multipart filenames, tar entries, folder walks) made into the
// store's form: POSIX, relative, normalized. Anything that would climb out of the deployment or
// name something odd is refused here, before a byte is written.
import { DeployError } from '../errors';

export function normalizeUploadPath(raw: string, where: string): string {
  const fail = (why: string) => new DeployError('ISLET_DEPLOY_UPLOAD_BAD_PATH', `${where}: path ${JSON.stringify(raw)} ${why}`);
  if (typeof raw !== 'string' || raw.length === 0) throw fail('is empty');
  if (raw.length > 1024) throw fail('is longer than 1024 characters');
  if (raw.includes('\0')) throw fail('contains a NUL character');
  if (raw.includes('\\')) throw fail('contains a backslash: use / as the separator');
  // esbuild reads an entry point with '*' as a glob over the server's own disk (its working
  // directory), which would list and build the server's files: no upload path may hold one
  if (raw.includes('*')) throw fail("contains '*': file names with wildcards are not allowed");
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) throw fail('is absolute: paths must be relative to the function folder');
  const segments = raw.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw fail("contains '..': paths must stay inside the function folder");
  if (segments.length === 0) throw fail('names no file');
  return segments.join('/');
}
