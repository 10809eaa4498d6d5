// kill -9 of the admin server in the middle of uploads, activations and env writes, at random
// moments and many times over, must leave a store where every deployment record names complete,
// uncorrupted files and every active pointer names a complete deployment.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { build } from '../../server/deploy/build';
import { FsDeploymentStore } from '../../server/store/fs';
import { checkStoreConsistent, killDuringChurn } from './crash-churn';
import { fixtureFiles } from './deploy-fixtures';

const rounds = 12;
const tenants = ['alpha', 'beta'];
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-deploy-crash-'));
after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

async function checkConsistent(): Promise<number> {
  // every JSON file the store wrote parses: no torn writes
  for (const tenant of fs.readdirSync(path.join(dataDir, 'tenants'))) {
    const dir = path.join(dataDir, 'tenants', tenant);
    for (const file of ['tenant.json', 'env.json']) {
      if (fs.existsSync(path.join(dir, file))) JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    }
    for (const file of fs.readdirSync(path.join(dir, 'deployments')))
      JSON.parse(fs.readFileSync(path.join(dir, 'deployments', file), 'utf8'));
  }
  const store = new FsDeploymentStore(dataDir);
  try {
    return await checkStoreConsistent(store);
  } finally {
    await store.close();
  }
}

test(`kill -9 during uploads, ${rounds} times at random moments, leaves a consistent store`, async () => {
  const files = fixtureFiles('multi');
  // a failed build in the child would only test the error path: make sure the upload is valid
  await build('alpha', files);
  const completed = await killDuringChurn({ store: dataDir, rounds, tenants, files, check: checkConsistent });
  const deployments = await checkConsistent();
  assert.ok(
    completed > 0 && deployments > 0,
    `uploads went through between kills (${completed} rounds of work, ${deployments} deployments)`,
  );
});
