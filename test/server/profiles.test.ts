// CPU profiles of a tenant through the admin API (POST /v1/tenants/{t}/profile): a real islet, a
// TypeScript upload built by the deploy step, real requests while the addon samples the isolate.
// The `.cpuprofile` must name the tenant's function at its line in the uploaded .ts file, be one
// DevTools Profiler.Profile, refuse a second profile of the same tenant while one runs (409),
// cap its length, and stay the tenant's own (another tenant's token is refused).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { repoRoot, startHarness, type Harness } from './serve-harness';
import { checkProfile, hammer, profileSource, BURN_LINE } from './profiles-support';

let h: Harness;
let admin: string;
before(async () => {
  h = await startHarness((config) => {
    config.profiles.maxSeconds = 5;
  });
  admin = `http://127.0.0.1:${h.serving.adminPort}`;
  await h.deploy('hot', profileSource, { entry: 'src/index.ts' });
  await h.deploy('other', { 'index.js': 'export default { fetch() { return new Response("x") } }' });
  assert.equal((await h.get('hot.localhost', '/')).status, 200);
});
after(() => h.close());

const auth = { authorization: 'Bearer test-operator-token' };

test('a profile names the tenant function at its TypeScript line', async () => {
  const stop = hammer(h.url('/'), 'hot.localhost');
  try {
    const res = await request(`${admin}/v1/tenants/hot/profile?seconds=1.5`, { method: 'POST', headers: auth });
    const text = await res.body.text();
    assert.equal(res.statusCode, 200, text);
    assert.match(String(res.headers['content-disposition']), /attachment; filename="hot-.*\.cpuprofile"/);
    assert.equal(res.headers['x-islet-isolates'], '1');
    checkProfile(JSON.parse(text), BURN_LINE);
  } finally {
    await stop();
  }
});

test('one profile per tenant at a time (409), others are not held up; seconds are capped', async () => {
  const first = request(`${admin}/v1/tenants/hot/profile?seconds=1`, { method: 'POST', headers: auth });
  await new Promise((r) => setTimeout(r, 200));
  const second = await request(`${admin}/v1/tenants/hot/profile?seconds=1`, { method: 'POST', headers: auth });
  const body = (await second.body.json()) as { error: { code: string } };
  assert.equal(second.statusCode, 409);
  assert.equal(body.error.code, 'PROFILE_RUNNING');
  const other = await request(`${admin}/v1/tenants/other/profile?seconds=0.2`, { method: 'POST', headers: auth });
  assert.equal(other.statusCode, 200, await other.body.text());
  assert.equal((await first).statusCode, 200);
  await (await first).body.text();
  // the lock is released: the next profile runs
  const again = await request(`${admin}/v1/tenants/hot/profile?seconds=0.2`, { method: 'POST', headers: auth });
  assert.equal(again.statusCode, 200, await again.body.text());

  for (const bad of ['6', '0', 'abc', '-1']) {
    const res = await request(`${admin}/v1/tenants/hot/profile?seconds=${bad}`, { method: 'POST', headers: auth });
    const answer = (await res.body.json()) as { error: { code: string; message: string } };
    assert.equal(res.statusCode, 400, bad);
    assert.match(answer.error.message, /seconds: expected a number from 0\.1 to 5/);
  }
});

test("a tenant's own deploy token may profile it, not another tenant; unknown tenants are 404", async () => {
  const created = await request(`${admin}/v1/tenants/other/tokens`, { method: 'POST', headers: auth });
  const { token } = (await created.body.json()) as { token: string };
  const own = await request(`${admin}/v1/tenants/other/profile?seconds=0.1`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(own.statusCode, 200, await own.body.text());
  const foreign = await request(`${admin}/v1/tenants/hot/profile?seconds=0.1`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(foreign.statusCode, 403);
  await foreign.body.dump();
  const missing = await request(`${admin}/v1/tenants/nobody/profile?seconds=0.1`, { method: 'POST', headers: auth });
  assert.equal(missing.statusCode, 404);
  await missing.body.dump();
  const anonymous = await request(`${admin}/v1/tenants/hot/profile?seconds=0.1`, { method: 'POST' });
  assert.equal(anonymous.statusCode, 401);
  await anonymous.body.dump();
});

test('islet profile <tenant> --seconds N -o file writes the .cpuprofile and names the hot function', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-profile-cli-'));
  const file = path.join(dir, 'hot.cpuprofile');
  const stop = hammer(h.url('/'), 'hot.localhost');
  let result: { code: number | null; stdout: string; stderr: string };
  try {
    result = await new Promise((resolve) => {
      const child = spawn(
        process.execPath,
        [path.join(repoRoot, 'bin', 'islet.js'), 'profile', 'hot', '--seconds', '1.5', '-o', file, '--json'],
        {
          env: { ...process.env, ISLET_ADMIN_URL: admin, ISLET_ADMIN_TOKEN: 'test-operator-token' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  } finally {
    await stop();
  }
  try {
    assert.equal(result.code, 0, result.stderr);
    const summary = JSON.parse(result.stdout) as {
      file: string;
      isolates: number;
      top: { name: string; at: string }[];
    };
    assert.equal(summary.file, file);
    assert.equal(summary.isolates, 1);
    assert.equal(summary.top[0]?.name, 'burn', JSON.stringify(summary.top));
    const at = Number(/^src\/burn\.ts:(\d+)$/.exec(summary.top[0]!.at)?.[1]);
    assert.ok(at >= BURN_LINE && at <= BURN_LINE + 7, `burn at a line of src/burn.ts: ${summary.top[0]!.at}`);
    checkProfile(JSON.parse(fs.readFileSync(file, 'utf8')), BURN_LINE);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
