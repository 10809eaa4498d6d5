// The native fuzzer's child process: property-based runs (fast-check) of random operation
// sequences (operations.ts) against the addon. After each run every isolate is disposed and
// every promise the API returned must settle. A crash or a hang kills this process: the parent
// (fuzz.test.ts, scripts/fuzz-native.js) reports it with the seed, which replays the same runs:
//   node --no-node-snapshot --expose-gc dist/test/native/fuzz/program.js --seed <n> [--ms <budget>] [--runs <n>]
import fc from 'fast-check';
import path from 'node:path';
import { checkError, sequence, World, type Ivm } from './operations';

const argument = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const seed = argument('seed', Date.now() % 2 ** 31);
const budgetMs = argument('ms', 10_000);
const runs = argument('runs', 1_000_000);
const ivm = require(process.env.ISLET_NATIVE_MODULE ?? path.resolve(__dirname, '..', '..', '..', 'native')) as Ivm;

const settleTimeoutMs = 10_000;

async function runSequence(operations: { name: string; run: (world: World) => unknown }[]): Promise<void> {
  const world = new World(ivm);
  for (const step of operations) {
    try {
      const result = step.run(world);
      if (result && typeof (result as Promise<unknown>).then === 'function') await result;
    } catch (error) {
      checkError(error);
    }
  }
  for (const isolate of world.isolates) if (!isolate.isDisposed) isolate.dispose();
  // every promise the API handed out settles once its isolates are gone
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    Promise.allSettled(world.pending).then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), settleTimeoutMs))),
  ]);
  clearTimeout(timer);
  if (!settled) {
    throw new Error(`a promise of the API was still pending ${settleTimeoutMs} ms after every isolate was disposed`);
  }
  for (const result of await Promise.allSettled(world.pending)) if (result.status === 'rejected') throw result.reason;
}

async function main(): Promise<void> {
  let count = 0;
  process.stdout.write(`seed ${seed}\n`);
  await fc.assert(
    fc.asyncProperty(sequence, async (operations) => {
      count++;
      await runSequence(operations);
    }),
    { seed, numRuns: runs, interruptAfterTimeLimit: budgetMs, markInterruptAsFailure: false, endOnFailure: true },
  );
  process.stdout.write(`ok ${count} runs\n`);
}

const describe = (error: unknown): string => (error instanceof Error ? (error.stack ?? error.message) : String(error));

main().catch((error) => {
  // fast-check 4 keeps the property's own failure as the error's cause, not in its message.
  const cause = error instanceof Error && error.cause !== undefined ? `\ncaused by: ${describe(error.cause)}` : '';
  process.stderr.write(`${describe(error)}${cause}\n`);
  process.exit(1);
});
