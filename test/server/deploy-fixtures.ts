// Shared by the deploy tests: fixture folders read into upload maps, a real npm package vendored
// into an upload, and running a built deployment's module graph in V8 (node:vm modules).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readDirectory } from '../../server/deploy/directory';
import type { DeploymentManifest } from '../../server/store/types';

export const repoRoot = path.resolve(__dirname, '../../..');
export const fixtures = path.join(repoRoot, 'test', 'fixtures', 'deploy');

/** lru-cache (a real, published ESM package) copied from this repo's node_modules: its package.json and browser build */
export function vendorLruCache(files: Map<string, Buffer>): Map<string, Buffer> {
  const pkg = path.join(repoRoot, 'node_modules', 'lru-cache');
  files.set('node_modules/lru-cache/package.json', fs.readFileSync(path.join(pkg, 'package.json')));
  const browser = path.join(pkg, 'dist', 'esm', 'browser');
  for (const name of fs.readdirSync(browser)) {
    if (name.endsWith('.js'))
      files.set(`node_modules/lru-cache/dist/esm/browser/${name}`, fs.readFileSync(path.join(browser, name)));
  }
  return files;
}

export function fixtureFiles(name: string): Map<string, Buffer> {
  const files = readDirectory(path.join(fixtures, name));
  return name === 'multi' ? vendorLruCache(files) : files;
}

export function fromObject(files: Record<string, string | Buffer>): Map<string, Buffer> {
  return new Map(Object.entries(files).map(([k, v]) => [k, Buffer.isBuffer(v) ? v : Buffer.from(v)]));
}

/** evaluates the built modules in a fresh V8 context and calls fetch(url) on the entry */
export function runGraph(
  manifest: DeploymentManifest,
  files: Map<string, Buffer>,
  url: string,
): { status?: number; body?: string; error?: string } {
  const input = JSON.stringify({
    manifest,
    files: Object.fromEntries([...files].map(([k, v]) => [k, v.toString('base64')])),
    url,
  });
  const child = spawnSync(
    process.execPath,
    ['--experimental-vm-modules', '--no-warnings', path.join(fixtures, 'run-module-graph.mjs')],
    {
      input,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    },
  );
  if (child.status !== 0) throw new Error(`module graph runner failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop()!);
}
