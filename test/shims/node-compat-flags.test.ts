// Which deployments get the Node globals (Buffer, process...): Workers' rules for the
// compatibility flags and date a deployment carries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeGlobals } from '../../server/tenants/builtins';

test('Node globals as on Workers: nodejs_compat from 2024-09-23, v2 at any date, everyone from 2026-08-04', () => {
  const cases: [Record<string, unknown> | undefined, boolean][] = [
    [undefined, false],
    [{}, false],
    [{ compatibility_flags: ['nodejs_compat'] }, true],
    [{ compatibility_flags: ['nodejs_compat'], compatibility_date: '2024-09-23' }, true],
    [{ compatibility_flags: ['nodejs_compat'], compatibility_date: '2024-09-22' }, false],
    [{ compatibility_flags: ['nodejs_compat_v2'], compatibility_date: '2023-01-01' }, true],
    [{ compatibility_date: '2026-08-04' }, true],
    [{ compatibility_date: '2026-08-03' }, false],
    [{ compatibility_flags: ['nodejs_compat', 'no_nodejs_compat_v2'], compatibility_date: '2026-09-01' }, false],
    [{ compatibility_flags: 'nodejs_compat' }, false],
  ];
  for (const [compatibility, expected] of cases)
    assert.equal(nodeGlobals(compatibility), expected, JSON.stringify(compatibility));
});
