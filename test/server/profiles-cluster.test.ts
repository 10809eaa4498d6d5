// CPU profiles under the supervisor (`islet serve --workers 2`, a real process tree): the admin
// request lands on whichever worker accepted it, the supervisor asks every worker, and the
// answer is the profile of the worker that hosts the tenant's isolate, source-mapped there.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { BURN_LINE, checkProfile, hammer, profileSource } from './profiles-support';

const repoRoot = path.resolve(__dirname, '../../..');
const TOKEN = 'profiles-cluster-token';

let child: ChildProcess | undefined;
after(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
});

test('through the supervisor: the worker hosting the tenant profiles it; a second profile is 409', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-profiles-cluster-'));
  const fn = path.join(dir, 'functions', 'hot');
  for (const [file, code] of Object.entries(profileSource)) {
    fs.mkdirSync(path.dirname(path.join(fn, file)), { recursive: true });
    fs.writeFileSync(path.join(fn, file), code);
  }
  fs.writeFileSync(path.join(fn, 'package.json'), JSON.stringify({ name: 'hot', main: 'src/index.ts' }));
  const bin = path.join(repoRoot, 'bin', 'islet.js');
  const args = ['--no-node-snapshot', bin, 'serve', '--workers', '2', '--functions', path.join(dir, 'functions')];
  child = spawn(process.execPath, args, {
    env: {
      ...process.env,
      ISLET_PORT: '0',
      ISLET_HOST: '127.0.0.1',
      ISLET_ADMIN_PORT: '0',
      ISLET_DATA_DIR: path.join(dir, 'data'),
      ISLET_ADMIN_TOKEN: TOKEN,
      ISLET_LOG_REQUESTS: 'false',
      ISLET_SHUTDOWN_TIMEOUT_MS: '3000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  try {
    const deadline = Date.now() + 60_000;
    let ports: RegExpExecArray | null = null;
    while (
      !(ports = /tenant traffic on http:\/\/127\.0\.0\.1:(\d+), admin API on http:\/\/[\d.]+:(\d+)/.exec(output))
    ) {
      if (child.exitCode !== null) throw new Error(`islet exited early:\n${output}`);
      if (Date.now() > deadline) throw new Error(`islet did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const [, tenantPort, adminPort] = ports;
    const tenantUrl = `http://127.0.0.1:${tenantPort}/`;
    const warm = await request(tenantUrl, { headers: { host: 'hot.localhost' } });
    assert.equal(warm.statusCode, 200, await warm.body.text());

    const stop = hammer(tenantUrl, 'hot.localhost');
    const headers = { authorization: `Bearer ${TOKEN}` };
    const url = `http://127.0.0.1:${adminPort}/v1/tenants/hot/profile`;
    try {
      const running = request(`${url}?seconds=2`, { method: 'POST', headers });
      await new Promise((r) => setTimeout(r, 300));
      // a fresh connection each: it may land on the other worker, which must still see the lock
      for (let i = 0; i < 2; i++) {
        const busy = await request(`${url}?seconds=1`, {
          method: 'POST',
          headers: { ...headers, connection: 'close' },
        });
        assert.equal(busy.statusCode, 409, await busy.body.text());
      }
      const res = await running;
      const text = await res.body.text();
      assert.equal(res.statusCode, 200, text);
      assert.equal(res.headers['x-islet-isolates'], '1', 'one worker hosts the tenant');
      checkProfile(JSON.parse(text), BURN_LINE);
    } finally {
      await stop();
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    await new Promise((r) => (child!.exitCode !== null ? r(null) : child!.once('exit', r)));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
