// store.url and its settings: what they accept, what they refuse (naming the setting, never
// echoing a secret), and which store each URL opens.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { checkSharedStore, ConfigError, loadConfig } from '../../server/config';
import { FsDeploymentStore } from '../../server/store/fs';
import { fileStorePath, openStore, storeKind } from '../../server/store/open';
import { clientConfig } from '../../server/store/postgres/connect';
import { generateSecretKey } from '../../server/store/postgres/secrets';

const problems = (env: Record<string, string>): string[] => {
  try {
    checkSharedStore(loadConfig({ env }));
    return [];
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
};

test('the default store is the data folder; file:/// names another folder', async () => {
  const config = loadConfig({ env: { ISLET_DATA_DIR: '/srv/islet' } });
  assert.equal(config.store.url, '');
  assert.equal(storeKind(config.store.url), 'fs');
  assert.equal(fileStorePath(config.store.url, config.dataDir), '/srv/islet');
  assert.equal(fileStorePath('file:///var/lib/islet%20data', config.dataDir), '/var/lib/islet data');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-store-url-'));
  const store = await openStore(`file://${dir}`, { dataDir: '/nowhere' });
  assert.ok(store instanceof FsDeploymentStore);
  assert.equal(store.root, dir);
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('bad store settings are refused, each naming its setting; a bad secret key is not echoed', () => {
  const bad = problems({
    ISLET_STORE_URL: 'mysql://db/islet',
    ISLET_STORE_SSLMODE: 'maybe',
    ISLET_STORE_POOL_SIZE: '0',
    ISLET_SECRET_KEY: 'k1:c2hvcnQtc2VjcmV0LXZhbHVlLW9mLXRoZS13cm9uZy1sZW5ndGg=',
  });
  assert.equal(bad.length, 3, bad.join('\n'));
  assert.match(bad.find((p) => p.startsWith('ISLET_STORE_URL'))!, /store\.url.*postgres:\/\//);
  assert.match(bad.find((p) => p.startsWith('ISLET_STORE_SSLMODE'))!, /verify-full/);
  assert.match(bad.find((p) => p.startsWith('ISLET_STORE_POOL_SIZE'))!, /1 to 1000/);
  const key = problems({ ISLET_SECRET_KEY: 'k1:c2hvcnQtc2VjcmV0LXZhbHVlLW9mLXRoZS13cm9uZy1sZW5ndGg=' });
  assert.equal(key.length, 1);
  assert.match(key[0]!, /store\.secretKey \(ISLET_SECRET_KEY\): key 'k1': the key must be 32 bytes/);
  const withPassword = problems({ ISLET_STORE_URL: 'postgress://islet:hunter2@db/islet' });
  assert.equal(withPassword.length, 1);
  assert.ok(!withPassword[0]!.includes('hunter2'), 'a URL (and its password) is not echoed');
  const malformed = problems({ ISLET_SECRET_KEY: 'not a key at all' });
  assert.ok(!malformed.join('').includes('not a key at all'), 'the value is not echoed');
  assert.deepEqual(problems({ ISLET_STORE_SSL_CA_FILE: '/nonexistent/ca.pem' }), [
    'store.sslCaFile (ISLET_STORE_SSL_CA_FILE): /nonexistent/ca.pem does not exist',
  ]);
});

test('a postgres:// store needs a secret key and a shared operator token to serve', () => {
  const missing = problems({ ISLET_STORE_URL: 'postgres://islet@db:5432/islet' });
  assert.equal(missing.length, 2);
  assert.match(missing[0]!, /ISLET_SECRET_KEY.*required.*keygen/);
  assert.match(missing[1]!, /ISLET_ADMIN_TOKEN.*same operator token/);
  assert.deepEqual(
    problems({
      ISLET_STORE_URL: 'postgresql://islet@db/islet',
      ISLET_SECRET_KEY: `${generateSecretKey('new')},${generateSecretKey('old')}`,
      ISLET_ADMIN_TOKEN: 't',
    }),
    [],
  );
});

test('TLS settings become pg options; URL sslmode applies under auto; other URL TLS parameters are refused', () => {
  const url = 'postgres://islet:pw@db:5432/islet';
  assert.equal(clientConfig({ url }, 'x').ssl, false);
  assert.deepEqual(clientConfig({ url: `${url}?sslmode=require&application_name=y` }, 'x').ssl, {
    rejectUnauthorized: false,
  });
  assert.equal(
    clientConfig({ url: `${url}?sslmode=require&application_name=y` }, 'x').connectionString,
    `${url}?application_name=y`,
  );
  assert.equal(
    clientConfig({ url: `${url}?sslmode=require`, sslMode: 'disable' }, 'x').ssl,
    false,
    'the setting wins over the URL',
  );
  assert.deepEqual(clientConfig({ url, sslMode: 'verify-full' }, 'x').ssl, { rejectUnauthorized: true, ca: undefined });
  assert.throws(() => clientConfig({ url: `${url}?sslmode=sometimes` }, 'x'), /sslmode 'sometimes'/);
  assert.throws(() => clientConfig({ url: `${url}?sslcert=/c.pem` }, 'x'), /'sslcert'.*store\.sslMode/);
});
