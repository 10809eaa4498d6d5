// Configuration: defaults, --config file, ISLET_* variables, validation messages, tenant limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, resolveLimits } from '../../server/config';
import { ConfigError } from '../../server/errors';

function tempFile(content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-config-'));
  const file = path.join(dir, 'islet.json');
  fs.writeFileSync(file, content);
  return file;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    assert.equal(err.code, 'ISLET_CONFIG_INVALID');
    return err.problems;
  }
  assert.fail('expected loadConfig to throw');
}

test('defaults match the documented values', () => {
  const config = loadConfig({ env: {}, cwd: '/srv' });
  assert.equal(config.port, 8080);
  assert.equal(config.host, '0.0.0.0');
  assert.equal(config.adminPort, 8081);
  assert.equal(config.adminHost, '127.0.0.1');
  assert.equal(config.baseDomain, 'localhost');
  assert.equal(config.limits.cpuMs, 50);
  assert.equal(config.limits.wallMs, 30_000);
  assert.equal(config.limits.memoryMb, 128);
  assert.equal(config.dataDir, '/srv/.islet');
});

test('a config file overrides defaults and environment variables override the file', () => {
  const file = tempFile(
    JSON.stringify({ port: 9000, limits: { cpuMs: 20, memoryMb: 64 }, egress: { allow: ['10.0.0.0/8'] } }),
  );
  const config = loadConfig({
    argv: ['--config', file],
    env: {
      ISLET_CPU_LIMIT_MS: '75',
      ISLET_BASE_DOMAIN: 'fn.example.com',
      ISLET_EGRESS_ALLOW: '127.0.0.1, localhost',
      ISLET_LOG_REQUESTS: 'false',
    },
  });
  assert.equal(config.port, 9000);
  assert.equal(config.limits.cpuMs, 75);
  assert.equal(config.limits.memoryMb, 64);
  assert.equal(config.baseDomain, 'fn.example.com');
  assert.deepEqual(config.egress.allow, ['127.0.0.1', 'localhost']);
  assert.equal(config.logRequests, false);
});

test('every bad value is reported with its setting, its source and what is expected', () => {
  const file = tempFile(JSON.stringify({ port: 'eighty', limits: { cpuMS: 5 }, pool: { maxIsolates: 0 } }));
  const problems = problemsOf(() =>
    loadConfig({
      argv: [`--config=${file}`],
      env: { ISLET_WALL_LIMIT_MS: '3s', ISLET_LOG_LEVEL: 'loud', ISLET_ADMIN_PORT: '70000' },
    }),
  );
  const text = problems.join('\n');
  assert.match(text, /islet\.json:port: got "eighty", expected an integer from 0 to 65535/);
  assert.match(text, /islet\.json:limits\.cpuMS: unknown setting/);
  assert.match(text, /islet\.json:pool\.maxIsolates: got 0, expected an integer from 1/);
  assert.match(text, /ISLET_WALL_LIMIT_MS \(limits\.wallMs\): got "3s", expected an integer .* \(ms\)/);
  assert.match(text, /ISLET_LOG_LEVEL \(logLevel\): got "loud", expected one of debug, info, warn, error/);
  assert.match(text, /ISLET_ADMIN_PORT \(adminPort\): got "70000"/);
  assert.equal(problems.length, 6);
});

test('a missing or broken config file is a clear error', () => {
  assert.match(
    problemsOf(() => loadConfig({ argv: ['--config', '/nonexistent/islet.json'], env: {} })).join(),
    /cannot read the config file \(ENOENT\)/,
  );
  assert.match(
    problemsOf(() => loadConfig({ argv: ['--config', tempFile('{ nope')], env: {} })).join(),
    /not valid JSON/,
  );
  assert.match(problemsOf(() => loadConfig({ argv: ['--config'], env: {} })).join(), /--config: expected a file path/);
});

test('wall limit below CPU limit is refused', () => {
  assert.match(
    problemsOf(() => loadConfig({ env: { ISLET_CPU_LIMIT_MS: '500', ISLET_WALL_LIMIT_MS: '100' } })).join(),
    /wallMs \(100\) must be at least limits\.cpuMs \(500\)/,
  );
});

test('tenant limits: config overrides, then the store record; bad record values are skipped and reported', () => {
  const file = tempFile(JSON.stringify({ tenants: { shop: { limits: { cpuMs: 200, concurrency: 4 } } } }));
  const config = loadConfig({ argv: ['--config', file], env: {} });
  assert.equal(resolveLimits(config, 'other').cpuMs, 50);
  assert.equal(resolveLimits(config, 'shop').cpuMs, 200);
  const problems: string[] = [];
  const limits = resolveLimits(config, 'shop', { cpuMs: 300, memoryMb: 1, bogus: 3 }, (p) => problems.push(p));
  assert.equal(limits.cpuMs, 300);
  assert.equal(limits.concurrency, 4);
  assert.equal(limits.memoryMb, 128);
  assert.equal(problems.length, 2);
  assert.match(problems.join('\n'), /tenant shop limits\.memoryMb: got 1, expected an integer from 8/);
  assert.match(problems.join('\n'), /tenant shop limits\.bogus: unknown limit/);
});

test('tenant limits in a config file are validated', () => {
  const file = tempFile(JSON.stringify({ tenants: { shop: { limits: { cpuMs: -1 }, color: 'red' } } }));
  const text = problemsOf(() => loadConfig({ argv: ['--config', file], env: {} })).join('\n');
  assert.match(text, /tenants\.shop\.limits\.cpuMs: got -1/);
  assert.match(text, /tenants\.shop\.color: unknown setting/);
});
