// Unpacks a tar or tar.gz upload into path -> bytes, refusing while it streams anything that
// could hurt: links (symbolic and hard), devices, paths that climb out (`../`, absolute), and
// archives that inflate past the deployment limit (a decompression bomb is cut off as soon as
// it crosses the limit, never inflated in full).
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { DeployError } from '../errors';
import { formatBytes, type UploadLimits } from './limits';
import { normalizeUploadPath } from './paths';

/** tar headers and padding add to the inflated size; this much slack is allowed on top */
const tarOverhead = 1024 * 1024;

export function isGzip(data: Uint8Array): boolean {
  return data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;
}

export async function extractArchive(data: Buffer, limits: UploadLimits): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const maxInflated = limits.maxDeploymentBytes + tarOverhead;
  let inflated = 0;
  let total = 0;
  const tooLarge = () =>
    new DeployError('ISLET_DEPLOY_UPLOAD_TOO_LARGE', `the archive inflates to more than the deployment limit of ${formatBytes(limits.maxDeploymentBytes)}`);

  const extract = tar.extract();
  let input: NodeJS.ReadableStream & { destroy(error?: Error): void } = Readable.from([data]);
  if (isGzip(data)) {
    const gunzip = zlib.createGunzip();
    gunzip.on('data', (chunk: Buffer) => {
      inflated += chunk.length;
      if (inflated > maxInflated) gunzip.destroy(tooLarge());
    });
    input = input.pipe(gunzip);
  }
  // errors of the inflater end the iteration below with that error
  input.on('error', (error: Error) => extract.destroy(error));
  input.pipe(extract as unknown as NodeJS.WritableStream);
  try {
    for await (const entry of extract) {
      const header = entry.header;
      if (header.type === 'directory') {
        // folders are implied by file paths; `tar -C dir .` adds `./` itself, which names nothing
        if (header.name.split('/').some((s) => s !== '' && s !== '.')) normalizeUploadPath(header.name, 'archive');
        entry.resume();
        continue;
      }
      const name = normalizeUploadPath(header.name, 'archive');
      if (header.type === 'symlink' || header.type === 'link') {
        throw new DeployError('ISLET_DEPLOY_UPLOAD_BAD_PATH', `archive: '${name}' is a ${header.type === 'link' ? 'hard link' : 'symbolic link'}; links are not allowed, include the file itself`);
      }
      if (header.type !== 'file' && header.type !== 'contiguous-file') {
        throw new DeployError('ISLET_DEPLOY_UPLOAD_BAD_PATH', `archive: '${name}' is a ${header.type}; only regular files and folders are allowed`);
      }
      if ((header.size ?? 0) > limits.maxFileBytes) {
        throw new DeployError('ISLET_DEPLOY_UPLOAD_TOO_LARGE', `file '${name}' is ${formatBytes(header.size ?? 0)}, more than the per-file limit of ${formatBytes(limits.maxFileBytes)}`);
      }
      if (files.size >= limits.maxFiles) throw new DeployError('ISLET_DEPLOY_UPLOAD_TOO_LARGE', `the archive has more than ${limits.maxFiles} files`);
      if (files.has(name)) throw new DeployError('ISLET_DEPLOY_UPLOAD_BAD_PATH', `archive: '${name}' appears twice`);
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      const content = Buffer.concat(chunks);
      total += content.length;
      if (total > limits.maxDeploymentBytes) throw tooLarge();
      files.set(name, content);
    }
  } catch (error) {
    if (error instanceof DeployError) throw error;
    throw new DeployError('ISLET_DEPLOY_UPLOAD_BAD_ARCHIVE', `the upload is not a readable tar or tar.gz archive: ${(error as Error).message}`);
  } finally {
    input.destroy();
    extract.destroy();
  }
  return stripCommonFolder(files);
}

/** `tar czf fn.tgz fn/` puts everything under `fn/`: drop such a single top folder */
export function stripCommonFolder(files: Map<string, Buffer>): Map<string, Buffer> {
  let prefix: string | null = null;
  for (const name of files.keys()) {
    const slash = name.indexOf('/');
    if (slash < 0) return files;
    const top = name.slice(0, slash + 1);
    if (prefix === null) prefix = top;
    else if (prefix !== top) return files;
  }
  if (prefix === null) return files;
  const out = new Map<string, Buffer>();
  for (const [name, data] of files) out.set(name.slice(prefix.length), data);
  return out;
}
