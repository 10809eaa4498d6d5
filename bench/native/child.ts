// The measurements of bench/native. As a process of its own it uses whatever
// `require('../../native')` resolves to (islet's addon, or the reference library when started
// with scripts/reference-isolate.js) and prints one JSON line of rows; main.ts also imports
// measure() to run both libraries in one process, alternating, so that both see the same load.
// Usage: node --no-node-snapshot --expose-gc [-r scripts/reference-isolate.js] dist/bench/native/child.js [--memory]
import native = require('../../native');
import { median } from '../lib/stats';

export type Library = typeof native;
export type Row = { name: string; unit: 'ms' | 'µs' | 'calls/s' | 'MB'; value: number };
let ivm: Library = native;
let rows: Row[] = [];

function timeSync(samples: number, fn: () => void, per = 1): number {
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = process.hrtime.bigint();
    for (let j = 0; j < per; j++) fn();
    values.push(Number(process.hrtime.bigint() - start) / per);
  }
  return median(values);
}

async function timeAsync(samples: number, fn: () => Promise<unknown>, per = 1): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = process.hrtime.bigint();
    for (let j = 0; j < per; j++) await fn();
    values.push(Number(process.hrtime.bigint() - start) / per);
  }
  return median(values);
}

const ms = (ns: number) => ns / 1e6;
const us = (ns: number) => ns / 1e3;

/** ~1 MB of JavaScript: many small functions, like a bundled application. */
function bigScript(): string {
  const parts: string[] = [];
  for (let i = 0; parts.join('').length < 1_000_000; i++) {
    const chunk: string[] = [];
    for (let j = 0; j < 100; j++)
      chunk.push(
        `function f${i}_${j}(a, b) { const c = a * ${j} + b; return c > ${i} ? [c, '${'x'.repeat(20)}'] : { c, d: a - b }; }`,
      );
    parts.push(chunk.join('\n'));
  }
  return parts.join('\n') + '\nglobalThis.done = true;';
}

export async function measure(library: Library): Promise<Row[]> {
  ivm = library;
  rows = [];
  await measureRows();
  return rows;
}

async function measureRows(): Promise<void> {
  rows.push({
    name: 'isolate creation',
    unit: 'ms',
    value: ms(timeSync(40, () => new ivm.Isolate({ memoryLimit: 32 }).dispose())),
  });
  {
    const isolate = new ivm.Isolate({ memoryLimit: 64 });
    rows.push({
      name: 'context creation',
      unit: 'ms',
      value: ms(timeSync(40, () => isolate.createContextSync().release())),
    });
    const context = isolate.createContextSync();
    rows.push({ name: "evalSync('1+1')", unit: 'µs', value: us(timeSync(30, () => context.evalSync('1+1'), 200)) });
    rows.push({
      name: "awaited eval('1+1')",
      unit: 'µs',
      value: us(await timeAsync(30, () => context.eval('1+1'), 100)),
    });

    const code = bigScript();
    rows.push({
      name: 'compile 1 MB script, no cache',
      unit: 'ms',
      value: ms(timeSync(8, () => isolate.compileScriptSync(code + `//${Math.random()}`).release())),
    });
    const first = isolate.compileScriptSync(code, { produceCachedData: true });
    first.runSync(context);
    const cached = isolate.compileScriptSync(code, { produceCachedData: true });
    const cache = cached.cachedData!;
    {
      // In a fresh isolate each time (a cold start), timing the compile alone.
      const samples: number[] = [];
      for (let i = 0; i < 8; i++) {
        const fresh = new ivm.Isolate({ memoryLimit: 64 });
        const start = process.hrtime.bigint();
        const script = fresh.compileScriptSync(code, { cachedData: cache });
        samples.push(Number(process.hrtime.bigint() - start));
        if (script.cachedDataRejected) throw new Error('cached data rejected');
        fresh.dispose();
      }
      rows.push({ name: 'compile 1 MB script, cached data', unit: 'ms', value: ms(median(samples)) });
    }

    const add = context.evalSync('(a, b) => a + b', { reference: true }) as native.Reference;
    rows.push({
      name: 'applySync round trip',
      unit: 'µs',
      value: us(timeSync(30, () => add.applySync(undefined, [1, 2]), 200)),
    });
    rows.push({
      name: 'awaited apply round trip',
      unit: 'µs',
      value: us(await timeAsync(30, () => add.apply(undefined, [1, 2]), 100)),
    });
    {
      const inFlight = 200;
      const values: number[] = [];
      for (let round = 0; round < 10; round++) {
        const start = process.hrtime.bigint();
        await Promise.all(Array.from({ length: inFlight }, (_, i) => add.apply(undefined, [i, 1])));
        values.push(inFlight / (Number(process.hrtime.bigint() - start) / 1e9));
      }
      rows.push({ name: 'apply throughput, 200 in flight', unit: 'calls/s', value: median(values) });
    }
    {
      // The server's hot path: one request in, one host callback, microtasks drained, answer out.
      context.global.setSync('hostNow', new ivm.Callback(() => 7));
      const dispatch = context.evalSync(
        '(id, method, url, headers, body) => { const t = hostNow(); return Promise.resolve(id + t + headers.length + body.byteLength), id }',
        { reference: true },
      ) as native.Reference;
      const headers = ['content-type', 'text/plain', 'accept', '*/*', 'user-agent', 'bench'];
      const body = new ArrayBuffer(64);
      rows.push({
        name: 'request dispatch (applySync, copy args, 1 callback)',
        unit: 'µs',
        value: us(
          timeSync(
            30,
            () =>
              dispatch.applySync(undefined, [1, 'GET', 'https://a.example/x', headers, body], {
                arguments: { copy: true },
                timeout: 1000,
              }),
            200,
          ),
        ),
      });
    }
    {
      const object = {
        items: Array.from({ length: 10_000 }, (_, i) => ({
          id: i,
          name: `item ${i}`,
          tags: ['a', 'b'],
          price: i * 1.5,
        })),
      };
      const global = context.global;
      rows.push({
        name: 'copy a 1 MB object into an isolate',
        unit: 'ms',
        value: ms(timeSync(20, () => global.setSync('obj', new ivm.ExternalCopy(object).copyInto()))),
      });
      // Buffers made beforehand: only the transfer is timed.
      const transfers: number[] = [];
      for (let i = 0; i < 100; i++) {
        const buffer = new ArrayBuffer(1 << 20);
        const start = process.hrtime.bigint();
        global.setSync('buf', new ivm.ExternalCopy(buffer, { transferOut: true }).copyInto({ transferIn: true }));
        transfers.push(Number(process.hrtime.bigint() - start));
      }
      rows.push({ name: 'transfer a 1 MB ArrayBuffer into an isolate', unit: 'µs', value: us(median(transfers)) });
    }
    isolate.dispose();
  }
  {
    // A 50-module graph: a chain with fan-out, compiled, linked and evaluated in a fresh isolate.
    const sources = new Map<string, string>();
    for (let i = 0; i < 50; i++) {
      const deps = [i + 1, i + 2].filter((d) => d < 50);
      const body = Array.from(
        { length: 40 },
        (_, j) => `export function m${i}_${j}(x) { return x * ${j} + ${i}; }`,
      ).join('\n');
      sources.set(
        `m${i}.js`,
        deps.map((d) => `import { m${d}_0 } from 'm${d}.js';`).join('\n') +
          '\n' +
          body +
          `\nexport const v = ${deps.map((d) => `m${d}_0(1)`).join(' + ') || '0'};`,
      );
    }
    const caches = new Map<string, native.ExternalCopy<ArrayBuffer>>();
    // Timed from the first compile to the end of evaluation, in a fresh isolate and context.
    const graph = async (useCache: boolean): Promise<number> => {
      const isolate = new ivm.Isolate({ memoryLimit: 64 });
      const context = await isolate.createContext();
      const start = process.hrtime.bigint();
      const modules = new Map<string, native.Module>();
      for (const [name, code] of sources) {
        const module = await isolate.compileModule(code, {
          filename: `file:///${name}`,
          ...(useCache ? { cachedData: caches.get(name) } : { produceCachedData: true }),
        });
        if (!useCache && module.cachedData) caches.set(name, module.cachedData);
        modules.set(name, module);
      }
      const root = modules.get('m0.js')!;
      await root.instantiate(context, (specifier) => modules.get(specifier)!);
      await root.evaluate();
      const elapsed = Number(process.hrtime.bigint() - start);
      isolate.dispose();
      return elapsed;
    };
    await graph(false);
    const uncached: number[] = [];
    const cachedRuns: number[] = [];
    for (let i = 0; i < 8; i++) {
      uncached.push(await graph(false));
      cachedRuns.push(await graph(true));
    }
    rows.push({ name: '50-module graph, no cache', unit: 'ms', value: ms(median(uncached)) });
    rows.push({ name: '50-module graph, cached data', unit: 'ms', value: ms(median(cachedRuns)) });
  }
}

async function memory(): Promise<void> {
  const count = 200;
  const keep: { isolate: native.Isolate; context: native.Context }[] = [];
  global.gc?.();
  const before = process.memoryUsage().rss;
  for (let i = 0; i < count; i++) {
    const isolate = new ivm.Isolate({ memoryLimit: 16 });
    const context = isolate.createContextSync();
    context.evalSync('1');
    keep.push({ isolate, context });
  }
  global.gc?.();
  await new Promise((resolve) => setTimeout(resolve, 200));
  rows.push({
    name: 'RSS per idle isolate with a context',
    unit: 'MB',
    value: (process.memoryUsage().rss - before) / count / 1048576,
  });
  for (const { isolate } of keep) isolate.dispose();
}

if (require.main === module)
  (process.argv.includes('--memory') ? memory() : measureRows()).then(
    () => process.stdout.write(JSON.stringify(rows) + '\n'),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
