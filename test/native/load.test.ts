import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as native from '../../native';

test('the addon loads and was built for this Node', () => {
  assert.equal(native.nodeModuleVersion, Number(process.versions.modules));
});
