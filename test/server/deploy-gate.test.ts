// The deploy gate's fairness: one tenant's burst of uploads takes one build slot and its share of
// the queue, and a freed slot goes to the next waiting tenant in turn, not to the burst.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeployGate } from '../../server/deploy/gate';

/** a build that runs until released */
function held(gate: DeployGate, tenant: string, order: string[]) {
  let release!: () => void;
  const done = gate.run(tenant, async () => {
    order.push(`${tenant} started`);
    await new Promise<void>((r) => (release = r));
    order.push(`${tenant} done`);
  });
  return { done, release: () => release() };
}

const tick = () => new Promise((r) => setImmediate(r));

test("one tenant's burst takes one slot and its share of the queue; the rest of the burst is BUSY, not others", async () => {
  const gate = new DeployGate(2, 16, 2);
  const order: string[] = [];
  const burst = [held(gate, 'flood', order)];
  await tick();
  const refused: string[] = [];
  const queued: Promise<void>[] = [];
  for (let i = 0; i < 39; i++) {
    queued.push(
      gate
        .run('flood', async () => void order.push('flood started'))
        .catch((e: { code: string; message: string }) => {
          refused.push(e.code);
        }),
    );
  }
  await tick();
  assert.equal(refused.length, 37, 'the burst waits with two uploads at most');
  assert.ok(refused.every((c) => c === 'ISLET_DEPLOY_BUSY'));
  // the second slot is free for another tenant at once, though the flood has uploads waiting
  const other = held(gate, 'patient', order);
  await tick();
  assert.deepEqual(order, ['flood started', 'patient started']);
  assert.deepEqual(gate.load, { running: 2, queued: 2 });
  other.release();
  await other.done;
  burst[0]!.release();
  await burst[0]!.done;
  await Promise.all(queued);
  assert.equal(order.filter((o) => o === 'flood started').length, 3);
});

test('a freed slot goes to the next tenant in turn, round robin', async () => {
  const gate = new DeployGate(1, 16, 4);
  const order: string[] = [];
  const first = held(gate, 'a', order);
  await tick();
  const waits = [
    gate.run('a', async () => void order.push('a2')),
    gate.run('a', async () => void order.push('a3')),
    gate.run('b', async () => void order.push('b1')),
    gate.run('c', async () => void order.push('c1')),
    gate.run('b', async () => void order.push('b2')),
  ];
  first.release();
  await Promise.all(waits);
  assert.deepEqual(order, ['a started', 'a done', 'b1', 'c1', 'a2', 'b2', 'a3']);
});
