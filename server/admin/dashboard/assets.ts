// The dashboard's static files (script modules and stylesheet). They are plain browser files
// kept in the source tree (server/admin/dashboard/assets), read once when the dashboard is created,
// and served with a content hash as ETag: no bundler step, no CDN, nothing fetched at run time.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { IsletError } from '../../errors';

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const types: Record<string, string> = {
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Where the asset files are: beside this file in the source tree, whether run from dist/ or not. */
export function assetDir(): string {
  const candidates = [
    path.join(__dirname, 'assets'),
    path.resolve(__dirname, '../../../../server/admin/dashboard/assets'),
  ];
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'app.mjs')));
  if (!found)
    throw new IsletError(
      'ISLET_ADMIN_DASHBOARD_ASSETS',
      `dashboard assets not found (looked in ${candidates.join(', ')})`,
    );
  return found;
}

export function loadAssets(dir = assetDir()): { files: Map<string, Asset>; version: string } {
  const files = new Map<string, Asset>();
  const all = crypto.createHash('sha256');
  for (const name of fs.readdirSync(dir).sort()) {
    const type = types[path.extname(name)];
    if (!type) continue;
    const body = fs.readFileSync(path.join(dir, name));
    const hash = crypto.createHash('sha256').update(body).digest('hex').slice(0, 16);
    all.update(name).update(hash);
    files.set(name, { body, type, etag: `"${hash}"` });
  }
  return { files, version: all.digest('hex').slice(0, 12) };
}
