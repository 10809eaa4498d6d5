// `islet dev`: a folder served through the production path, rebuilt and swapped when a file
// changes, build errors reported while the previous version keeps serving, and the terminal
// showing console output, requests and errors with stacks mapped to the TypeScript source.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { formatRecord, startDev, tenantNameFor, type DevServer } from '../../server/cli/dev';
import { eventually, repoRoot } from './islet';

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await request(url);
  return { status: res.statusCode, text: await res.body.text() };
}

describe('islet dev', () => {
  let dir: string;
  let dev: DevServer;
  const printed: string[] = [];
  const output = () => printed.join('\n');

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-dev-fn-'));
    fs.mkdirSync(path.join(dir, 'lib'));
    fs.writeFileSync(path.join(dir, 'lib', 'version.ts'), `export const version: string = 'one';\n`);
    fs.writeFileSync(
      path.join(dir, 'index.ts'),
      [
        `import { version } from './lib/version';`,
        `export default {`,
        `  fetch(request: Request, env: { GREETING?: string }): Response {`,
        `    console.log('handling', new URL(request.url).pathname);`,
        `    return new Response(\`\${env.GREETING ?? 'hi'} \${version}\\n\`);`,
        `  },`,
        `};`,
        ``,
      ].join('\n'),
    );
    dev = await startDev({ dir, port: 0, env: { GREETING: 'hello' }, print: (line) => printed.push(line) });
  });

  after(async () => {
    await dev?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves the folder on localhost with its env, and prints console output and a request line', async () => {
    assert.match(dev.url, /^http:\/\/localhost:\d+\/$/);
    const res = await get(dev.url.replace('localhost', '127.0.0.1') + 'some/path');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'hello one\n');
    await eventually(
      async () => (/handling \/some\/path/.test(output()) ? true : undefined),
      3000,
      'console line printed',
    );
    await eventually(
      async () => (/GET \/some\/path 200/.test(output()) ? true : undefined),
      3000,
      'request line printed',
    );
    assert.match(output(), /✓ built and serving/);
  });

  it('rebuilds and serves the new code when an imported module changes', async () => {
    const before = dev.deployment;
    fs.writeFileSync(path.join(dir, 'lib', 'version.ts'), `export const version: string = 'two';\n`);
    await eventually(
      async () =>
        (await get(`http://127.0.0.1:${dev.serving.tenantPort}/`)).text === 'hello two\n' ? true : undefined,
      10000,
      'new version served',
    );
    // the terminal says so once the tenant layer serves it (a request may see it a moment earlier)
    await eventually(
      async () => (dev.deployment !== before ? true : undefined),
      5000,
      'dev reports the new deployment',
    );
    assert.match(output(), new RegExp(`✓ built and serving ${dev.deployment}`));
  });

  it('reports a build error with file:line, and answers requests with it (a page in a browser, text for curl) until fixed', async () => {
    fs.writeFileSync(path.join(dir, 'lib', 'version.ts'), `export const version: string = 'three'\nexport const = ;\n`);
    await eventually(async () => (/✗ build failed/.test(output()) ? true : undefined), 10000, 'build failure printed');
    assert.match(output(), /lib\/version\.ts:2:\d+/);
    const base = `http://127.0.0.1:${dev.serving.tenantPort}/`;
    const text = await get(base);
    assert.equal(text.status, 500, 'not a 404, not the old version');
    assert.match(text.text, /build of \S+ failed/);
    assert.match(text.text, /lib\/version\.ts:2:\d+/);
    const page = await request(base, { headers: { accept: 'text/html,application/xhtml+xml' } });
    const html = await page.body.text();
    assert.equal(page.statusCode, 500);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(html, /<h1>Build failed<\/h1>/);
    assert.match(html, /lib\/version\.ts:2:\d+/);
    // fixed: served again
    fs.writeFileSync(path.join(dir, 'lib', 'version.ts'), `export const version: string = 'two';\n`);
    await eventually(
      async () => ((await get(base)).text === 'hello two\n' ? true : undefined),
      10000,
      'fixed build served',
    );
  });

  it('prints an uncaught error with its stack mapped to the TypeScript source', async () => {
    fs.writeFileSync(path.join(dir, 'lib', 'version.ts'), `export const version: string = 'four';\n`);
    fs.writeFileSync(
      path.join(dir, 'index.ts'),
      [
        `type Shape = { size: number };`,
        `function area(shape: Shape): number {`,
        `  throw new Error('no area for size ' + shape.size);`,
        `}`,
        `export default {`,
        `  fetch(): Response {`,
        `    return new Response(String(area({ size: 3 })));`,
        `  },`,
        `};`,
        ``,
      ].join('\n'),
    );
    await eventually(
      async () => ((await get(`http://127.0.0.1:${dev.serving.tenantPort}/`)).status === 500 ? true : undefined),
      10000,
      'throwing version served',
    );
    await eventually(async () => (/no area for size 3/.test(output()) ? true : undefined), 3000, 'error printed');
    // line 3 of index.ts is where it threw: the built JavaScript has other line numbers
    await eventually(
      async () => (/index\.ts:3:\d+/.test(output()) ? true : undefined),
      3000,
      'stack mapped to index.ts:3',
    );
    // a browser gets the error and its mapped stack instead of islet's one-line 500
    const page = await request(`http://127.0.0.1:${dev.serving.tenantPort}/`, { headers: { accept: 'text/html' } });
    const html = await page.body.text();
    assert.equal(page.statusCode, 500);
    assert.match(html, /no area for size 3/);
    assert.match(html, /index\.ts:3:\d+/);
  });

  it('maps the stack a framework prints with console.error(err) to the TypeScript source', async () => {
    fs.writeFileSync(
      path.join(dir, 'index.ts'),
      [
        `type Input = { name?: string };`,
        `function check(input: Input): string {`,
        `  if (!input.name) throw new TypeError('name is required');`,
        `  return input.name;`,
        `}`,
        `export default {`,
        `  fetch(): Response {`,
        `    try {`,
        `      return new Response(check({}));`,
        `    } catch (err) {`,
        `      console.error(err);`,
        `      return new Response('handled', { status: 400 });`,
        `    }`,
        `  },`,
        `};`,
        ``,
      ].join('\n'),
    );
    await eventually(
      async () => ((await get(`http://127.0.0.1:${dev.serving.tenantPort}/`)).text === 'handled' ? true : undefined),
      10000,
      'new version',
    );
    await eventually(
      async () => (/TypeError: name is required/.test(output()) ? true : undefined),
      3000,
      'logged error printed',
    );
    await eventually(
      async () => (/at check \(index\.ts:3:\d+\)/.test(output()) ? true : undefined),
      3000,
      'framework-logged stack mapped',
    );
  });

  it('maps the stack of top-level code that throws, in the terminal and on the error page', async () => {
    fs.writeFileSync(
      path.join(dir, 'index.ts'),
      [
        `const config: Record<string, string> = {};`,
        `function need(key: string): string {`,
        `  if (!(key in config)) throw new Error('missing ' + key);`,
        `  return config[key]!;`,
        `}`,
        `export const url = need('URL');`,
        `export default { fetch: () => new Response(url) };`,
        ``,
      ].join('\n'),
    );
    await eventually(async () => (/missing URL/.test(output()) ? true : undefined), 10000, 'top-level throw reported');
    await eventually(
      async () => (/index\.ts:3:\d+/.test(output().slice(output().indexOf('missing URL'))) ? true : undefined),
      3000,
      'mapped',
    );
    const page = await get(`http://127.0.0.1:${dev.serving.tenantPort}/`);
    assert.equal(page.status, 500);
    assert.match(page.text, /missing URL/);
  });

  it('names the tenant after the folder and formats records a person reads', () => {
    assert.equal(tenantNameFor('/home/me/My Shop_API'), 'my-shop-api');
    assert.equal(tenantNameFor('/tmp/worker.ts'), 'worker');
    assert.equal(tenantNameFor('/tmp/___'), 'dev');
    assert.equal(
      formatRecord({ time: '2026-01-01T10:00:00.123Z', level: 'info', msg: 'islet serving' }),
      null,
      'routine server lines are left out',
    );
    assert.equal(
      formatRecord({
        time: '2026-01-01T10:00:00.123Z',
        source: 'request',
        method: 'POST',
        path: '/x',
        status: 201,
        wallMs: 1.5,
        cpuMs: 0.4,
        cold: true,
      }),
      '10:00:00.123 POST /x 201 1.5 ms (cpu 0.4 ms) cold',
    );
    assert.equal(
      formatRecord({
        time: '2026-01-01T10:00:00.123Z',
        source: 'limit',
        limit: 'cpu',
        measured: 51,
        unit: 'ms',
        stack: 'Error\n  at spin (index.ts:2:3)',
      }),
      '10:00:00.123 limit cpu limit exceeded: 51 ms\n    Error\n    at spin (index.ts:2:3)',
    );
  });

  it('explains what is wrong with its arguments through bin/islet.js', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'islet.js'), 'dev', ...args], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (chunk) => (stderr += chunk));
        child.on('close', (code) => resolve({ code, stderr }));
      });
    const none = await run([]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /which function\? Give its folder/);
    const badPort = await run([dir, '--port', 'eighty']);
    assert.equal(badPort.code, 1);
    assert.match(badPort.stderr, /--port must be a port number/);
    const busy = await run([dir, '--port', String(dev.serving.tenantPort)]);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, new RegExp(`port ${dev.serving.tenantPort} is already in use: pick another with --port`));
    const missing = await run([path.join(dir, 'nope')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /does not exist/);
  });
});
