// Reads a deployment upload from an HTTP request, in any of its three forms:
//   - one module: Content-Type application/javascript or application/typescript (the body is the code);
//   - multipart/form-data: one part per file (filename = path in the function) plus fields;
//   - a tar.gz (or tar) of the function folder: application/gzip, application/x-tar, ...
// Options come from the query string and, for multipart, from form fields too:
// entry, routes (comma-separated or repeated), bundle=true, activate=false, compatibility (JSON),
// message (what changed, kept with the deployment).
import type { Context } from 'hono';
import { parseRoute } from '../front/router';
import { extractArchive, isGzip } from './archive';
import { ApiError, DeployError } from '../errors';
import { formatBytes, type UploadLimits } from './limits';

export interface UploadRequest {
  files: Map<string, Buffer>;
  entry?: string;
  routes: string[];
  bundle: boolean;
  activate: boolean;
  compatibility?: Record<string, unknown>;
  /** what changed, kept with the deployment */
  message?: string;
}

/** longest deployment message kept (characters) */
export const maxMessageChars = 2000;

const moduleTypes: Record<string, string> = {
  'application/javascript': 'index.js',
  'text/javascript': 'index.js',
  'application/ecmascript': 'index.js',
  'application/typescript': 'index.ts',
  'application/x-typescript': 'index.ts',
  'text/typescript': 'index.ts',
};
const archiveTypes = new Set(['application/gzip', 'application/x-gzip', 'application/x-tar', 'application/tar', 'application/x-compressed-tar', 'application/octet-stream']);

/** the request body, refusing past `max` bytes without reading the rest */
export async function readBody(c: Context, max: number): Promise<Buffer> {
  const declared = Number(c.req.header('content-length'));
  const tooLarge = () => new ApiError('ISLET_ADMIN_PAYLOAD_TOO_LARGE', `the request body is larger than the upload limit of ${formatBytes(max)}`);
  if (Number.isFinite(declared) && declared > max) throw tooLarge();
  const body = c.req.raw.body;
  if (!body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }
  return Buffer.concat(chunks);
}

function parseFlag(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ApiError('ISLET_ADMIN_BAD_OPTION', `'${name}' must be true or false, not ${JSON.stringify(value)}`);
}

function parseRoutes(values: string[]): string[] {
  const routes = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  for (const route of routes) {
    try {
      parseRoute(route);
    } catch (error) {
      throw new DeployError('ISLET_DEPLOY_BAD_ROUTE', (error as Error).message);
    }
  }
  return [...new Set(routes)];
}

function parseCompatibility(value: string | undefined): Record<string, unknown> | undefined {
  if (value === undefined || value === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    throw new ApiError('ISLET_ADMIN_BAD_OPTION', `'compatibility' is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ApiError('ISLET_ADMIN_BAD_OPTION', "'compatibility' must be a JSON object");
  }
  return parsed as Record<string, unknown>;
}

export async function readUpload(c: Context, limits: UploadLimits): Promise<UploadRequest> {
  const contentType = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const query = (name: string) => c.req.query(name);
  const fields = new Map<string, string[]>();
  const field = (name: string) => fields.get(name)?.at(-1) ?? query(name);
  let files = new Map<string, Buffer>();

  if (contentType in moduleTypes) {
    const body = await readBody(c, limits.maxRequestBytes);
    if (body.length === 0) throw new DeployError('ISLET_DEPLOY_UPLOAD_EMPTY', 'the request body is empty: send the module source');
    files.set(query('entry') || moduleTypes[contentType]!, body);
  } else if (contentType === 'multipart/form-data') {
    const body = await readBody(c, limits.maxRequestBytes);
    let form: FormData;
    try {
      form = await new Response(body, { headers: { 'content-type': c.req.header('content-type')! } }).formData();
    } catch (error) {
      throw new ApiError('ISLET_ADMIN_BAD_MULTIPART', `the multipart body could not be parsed: ${(error as Error).message}`);
    }
    for (const [name, value] of form.entries()) {
      if (typeof value === 'string') {
        fields.set(name, [...(fields.get(name) ?? []), value]);
        continue;
      }
      const file = value as File;
      const filePath = file.name || name;
      if (files.has(filePath)) throw new DeployError('ISLET_DEPLOY_UPLOAD_BAD_PATH', `upload: file '${filePath}' appears twice`);
      files.set(filePath, Buffer.from(await file.arrayBuffer()));
    }
    if (files.size === 0) throw new DeployError('ISLET_DEPLOY_UPLOAD_EMPTY', 'the multipart upload has no file parts (each file is a part whose filename is its path)');
  } else if (archiveTypes.has(contentType)) {
    const body = await readBody(c, limits.maxRequestBytes);
    if (body.length === 0) throw new DeployError('ISLET_DEPLOY_UPLOAD_EMPTY', 'the request body is empty: send a tar.gz of the function folder');
    if (contentType === 'application/octet-stream' && !isGzip(body)) {
      throw new DeployError('ISLET_DEPLOY_UPLOAD_BAD_ARCHIVE', 'application/octet-stream uploads must be gzip-compressed tar archives');
    }
    files = await extractArchive(body, limits);
  } else {
    throw new ApiError(
      'ISLET_ADMIN_UNSUPPORTED_MEDIA_TYPE',
      `cannot deploy a body of type '${contentType || 'none'}': send application/javascript, application/typescript, multipart/form-data or application/gzip (a tar.gz)`,
    );
  }

  const routeValues = [...(fields.get('routes') ?? []), ...(c.req.queries('routes') ?? [])];
  const upload: UploadRequest = {
    files,
    routes: parseRoutes(routeValues),
    bundle: parseFlag('bundle', field('bundle'), false),
    activate: parseFlag('activate', field('activate'), true),
  };
  const entry = field('entry');
  if (entry) upload.entry = entry;
  const compatibility = parseCompatibility(field('compatibility'));
  if (compatibility) upload.compatibility = compatibility;
  const message = field('message');
  if (message !== undefined && message.trim() !== '') {
    if (message.length > maxMessageChars)
      throw new ApiError('ISLET_ADMIN_BAD_OPTION', `'message' is longer than ${maxMessageChars} characters`);
    upload.message = message.trim();
  }
  return upload;
}
