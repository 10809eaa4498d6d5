// A tenant's stack, as the addon reports it against the built modules, read back in the files
// the tenant uploaded: a real TypeScript upload built by the deploy step (esbuild, source maps
// with upload paths), stored in a real FsDeploymentStore, mapped through its source maps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { build } from '../../server/deploy/build';
import { FsDeploymentStore } from '../../server/store/fs';
import { SourceMapper } from '../../server/observe/tenant-logs/source-maps';
import { LogHub } from '../../server/observe/tenant-logs/hub';
import { Logger } from '../../server/observe/server-log';

const indexTs = `import { spin } from './lib/spin';

type Env = Record<string, string>;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const n: number = spin(1000);
    return new Response(String(n));
  },
};
`;
const spinTs = `// a helper in a subfolder, with types that esbuild strips
export interface Counter { value: number }

export function spin(limit: number): number {
  const counter: Counter = { value: 0 };
  while (counter.value < limit) {
    counter.value += 1; // MARK
  }
  return counter.value;
}
`;

/** line and column (1-based, as V8 reports them) of `needle` in `code` */
function locate(code: string, needle: string): { line: number; column: number } {
  const lines = code.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const at = lines[i].indexOf(needle);
    if (at >= 0) return { line: i + 1, column: at + 1 };
  }
  throw new Error(`${needle} not found in built code:\n${code}`);
}

async function deployed(t: import('node:test').TestContext, options: { bundle?: boolean } = {}) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'islet-sourcemap-'));
  const store = new FsDeploymentStore(dir);
  t.after(async () => {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  const upload = new Map([
    ['index.ts', Buffer.from(indexTs)],
    ['lib/spin.ts', Buffer.from(spinTs)],
  ]);
  const { manifest, files } = await build('shop', upload, { bundle: options.bundle });
  await store.putTenant({ name: 'shop', createdAt: new Date().toISOString(), active: null });
  await store.putDeployment(manifest, files);
  return { store, manifest, files };
}

test('frames in linked modules map to the uploaded TypeScript file and line', async (t) => {
  const { store, manifest, files } = await deployed(t);
  const spinModule = manifest.modules.find((m) => m.path.startsWith('lib/spin'));
  const entry = manifest.modules.find((m) => m.path === manifest.entry);
  assert.ok(spinModule?.sourceMap && entry?.sourceMap, `modules with source maps expected: ${JSON.stringify(manifest.modules)}`);
  const spinCode = files.get(spinModule.path)!.toString('utf8');
  const entryCode = files.get(entry.path)!.toString('utf8');
  const inLoop = locate(spinCode, 'counter.value += 1');
  const call = locate(entryCode, 'spin(');
  const stack = [
    'Error: cpu limit exceeded',
    `    at spin (file:///${spinModule.path}:${inLoop.line}:${inLoop.column})`,
    `    at Object.fetch (file:///${entry.path}:${call.line}:${call.column})`,
    '    at dispatch (islet:bootstrap:1:200)',
  ].join('\n');

  const mapper = new SourceMapper(store);
  const mapped = (await mapper.mapStack('shop', manifest.id, stack)).split('\n');
  assert.equal(mapped[0], 'Error: cpu limit exceeded');
  assert.match(mapped[1], /^ {4}at spin \(lib\/spin\.ts:7:\d+\)$/);
  assert.equal(mapped[1].match(/:7:(\d+)\)$/)![1], String(spinTs.split('\n')[6].indexOf('counter.value') + 1));
  assert.match(mapped[2], /^ {4}at Object\.fetch \(index\.ts:7:\d+\)$/);
  assert.equal(mapped[3], '    at dispatch (islet:bootstrap:1:200)', 'frames outside the deployment stay as they were');
});

test('a bundled deployment maps each frame to the file it came from', async (t) => {
  const { store, manifest, files } = await deployed(t, { bundle: true });
  assert.equal(manifest.modules.length, 1);
  const bundle = manifest.modules[0];
  const inLoop = locate(files.get(bundle.path)!.toString('utf8'), 'counter.value += 1');
  const mapper = new SourceMapper(store);
  const mapped = await mapper.mapStack('shop', manifest.id, `    at spin (file:///${bundle.path}:${inLoop.line}:${inLoop.column})`);
  assert.match(mapped, /^ {4}at spin \(lib\/spin\.ts:7:\d+\)$/);
});

test('frames that cannot be mapped are left as they were, never lost', async (t) => {
  const { store, manifest } = await deployed(t);
  const mapper = new SourceMapper(store);
  const stack = [
    '    at file:///nope.js:1:1',
    '    at <anonymous>',
    `    at x (file:///${manifest.entry}:99999:1)`,
  ].join('\n');
  assert.equal(await mapper.mapStack('shop', manifest.id, stack), stack);
  assert.equal(await mapper.mapStack('shop', 'no-such-deployment', stack), stack);
  assert.equal(await mapper.mapStack('ghost', manifest.id, stack), stack);
});

test('a limit line in the tenant log carries the source-mapped stack', async (t) => {
  const { store, manifest, files } = await deployed(t);
  const spinModule = manifest.modules.find((m) => m.path.startsWith('lib/spin'))!;
  const inLoop = locate(files.get(spinModule.path)!.toString('utf8'), 'counter.value += 1');
  const lines: string[] = [];
  const hub = new LogHub(new Logger('info', (l) => lines.push(l)), { sourceMaps: new SourceMapper(store) });
  await hub.limitExceeded({
    tenant: 'shop',
    deployment: manifest.id,
    requestId: 'req-42',
    limit: 'cpu',
    measured: 51.7,
    stack: `    at spin (file:///${spinModule.path}:${inLoop.line}:${inLoop.column})`,
  });
  const line = JSON.parse(hub.recent('shop')[0]);
  assert.equal(line.requestId, 'req-42');
  assert.equal(line.limit, 'cpu');
  assert.equal(line.measured, 51.7);
  assert.match(line.stack, /at spin \(lib\/spin\.ts:7:\d+\)/);
  assert.equal(lines.length, 1);
});
