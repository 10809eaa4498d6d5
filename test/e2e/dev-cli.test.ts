// `islet dev` as a developer starts it: bin/islet.js in a child process. The dashboard listens on
// ISLET_ADMIN_PORT when it is set (no random port to look up), and what README.md shows of the
// terminal output has the shape of the real output, line for line.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { request } from 'undici';
import { eventually, repoRoot } from './islet';

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** a line with its variable parts (ports, ids, times, durations, tokens) replaced */
function shape(line: string, dir = 'functions/api'): string {
  return line
    .split(dir)
    .join('DIR')
    .replace(/\d\d:\d\d:\d\d\.\d{3}/g, 'TIME')
    .replace(/[a-z0-9]{8}-[0-9a-f]{10}/g, 'ID')
    .replace(/:\d{2,5}\//g, ':PORT/')
    .replace(/\d+(\.\d+)? ms/g, 'N ms')
    .replace(/\(\d+ modules?,/, '(N modules,')
    .replace(/\(token: [^)]+\)/, '(token: TOKEN)')
    .replace(/"[a-z0-9-]+"/, '"TENANT"')
    .replace(/\/\/[a-z0-9-]+\.localhost/, '//TENANT.localhost')
    .trim();
}

test('islet dev uses ISLET_ADMIN_PORT for the dashboard, and prints what README.md shows', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-dev-cli-'));
  fs.writeFileSync(
    path.join(dir, 'index.ts'),
    `export default { fetch: (r: Request) => new Response(new URL(r.url).pathname, { status: r.method === 'POST' ? 201 : 404 }) };\n`,
  );
  const adminPort = await freePort();
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'islet.js'), 'dev', dir, '--port', '0'], {
    env: { ...process.env, ISLET_ADMIN_PORT: String(adminPort), ISLET_ADMIN_TOKEN: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await eventually(async () => (/built and serving/.test(stderr) ? true : undefined), 30_000, 'first build');
    assert.match(stderr, new RegExp(`dashboard http://127\\.0\\.0\\.1:${adminPort}/`));
    const health = await request(`http://127.0.0.1:${adminPort}/healthz`);
    assert.equal(health.statusCode, 200);
    await health.body.dump();
    const port = Number(/on http:\/\/localhost:(\d+)\//.exec(stderr)![1]);
    for (const [method, p] of [
      ['POST', '/notes'],
      ['GET', '/notes/7'],
    ]) {
      const res = await request(`http://127.0.0.1:${port}${p}`, { method: method as 'GET' });
      await res.body.dump();
    }
    await eventually(async () => (/GET \/notes\/7 404/.test(stderr) ? true : undefined), 5000, 'request lines');

    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const block = /### Developing a function locally[\s\S]*?```console\n([\s\S]*?)```/.exec(readme)![1]!;
    const shown = block.split('\n').filter((l) => l.trim() && !l.startsWith('$'));
    const real = new Set(stderr.split('\n').map((line) => shape(line, dir)));
    for (const line of shown)
      assert.ok(real.has(shape(line)), `README line not in the real output: ${line}\nreal:\n${stderr}`);
  } finally {
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
