// The operator hears about machine stops: watchMachineStalls turns news in native/'s stall
// ledger into one warning per check, with the stops and the CPU given back since the last one.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '../../server/observe/server-log';
import { watchMachineStalls } from '../../server/tenants/stalls';
import { machineStalls, type MachineStalls } from '../../server/host/isolate-api';

test('the addon keeps a stall ledger the server can read', () => {
  const ledger = machineStalls();
  assert.ok(ledger, 'native/ exports machineStalls()');
  for (const field of ['count', 'totalNs', 'creditedNs'] as const)
    assert.ok(Number.isInteger(ledger[field]) && ledger[field] >= 0, field);
  assert.equal(typeof ledger.detecting, 'boolean');
});

test('new stops in the ledger are logged once, as a warning with what they cost', async () => {
  const lines: string[] = [];
  const logger = new Logger('info', (line) => lines.push(line));
  // ledger states as the addon reports them, one per read
  const states: MachineStalls[] = [
    { detecting: true, count: 2, totalNs: 60e6, creditedNs: 10e6 },
    { detecting: true, count: 2, totalNs: 60e6, creditedNs: 10e6 },
    { detecting: true, count: 5, totalNs: 150e6, creditedNs: 52e6 },
  ];
  let reads = 0;
  const stop = watchMachineStalls(logger, 20, () => states[Math.min(reads++, states.length - 1)]!);
  try {
    // every state read, and a few checks more that see no change (a loaded machine may delay the timer)
    for (let waited = 0; reads < states.length + 2 && waited < 10_000; waited += 10)
      await new Promise((resolve) => setTimeout(resolve, 10));
  } finally {
    stop();
  }
  assert.ok(reads >= states.length + 2, `the ledger was read ${reads} times`);
  const warnings = lines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => String(r.msg).startsWith('machine stalls'));
  assert.equal(warnings.length, 1, `one warning for the one change: ${lines.join('\n')}`);
  assert.equal(warnings[0]!.level, 'warn');
  assert.equal(warnings[0]!.stalls, 3);
  assert.equal(warnings[0]!.stalledMs, 90);
  assert.equal(warnings[0]!.cpuCreditedMs, 42);
  assert.equal(warnings[0]!.totalStalls, 5);
});

test('without a working detector nothing is watched', async () => {
  const lines: string[] = [];
  let reads = 0;
  const stop = watchMachineStalls(new Logger('info', (line) => lines.push(line)), 10, () => {
    reads++;
    return { detecting: false, count: 0, totalNs: 0, creditedNs: 0 };
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  stop();
  assert.equal(reads, 1);
  assert.deepEqual(lines, []);
});
