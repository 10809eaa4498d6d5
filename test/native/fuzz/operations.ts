// The operations the native fuzzer strings together: every kind of call a careless or hostile
// embedder makes (creating and disposing isolates at random points, every sync/async/ignored
// form, copies of odd buffers, module graphs, callbacks both ways, applySyncPromise, collecting
// garbage), each with random arguments. An operation may fail with an Error: what it may never
// do is crash the process, hang it, hand back bytes the source did not hold, or leave a
// promise of the API unsettled once every isolate is disposed (checked by program.ts).
import fc from 'fast-check';
import type * as Native from '../../../native';

export type Ivm = typeof Native;

/** What one fuzz run has made so far. */
export class World {
  isolates: Native.Isolate[] = [];
  contexts: Native.Context[] = [];
  references: Native.Reference[] = [];
  copies: Native.ExternalCopy[] = [];
  modules: Native.Module[] = [];
  pending: Promise<unknown>[] = [];
  releases: Array<() => void> = [];
  constructor(readonly ivm: Ivm) {}
  pick<T>(list: T[], index: number): T | undefined {
    return list.length ? list[index % list.length] : undefined;
  }
  track(value: unknown): void {
    if (value && typeof (value as Promise<unknown>).then === 'function') {
      this.pending.push(Promise.resolve(value).catch(checkError));
    }
  }
}

/** An operation failed: it must be with an Error that says something. */
export function checkError(error: unknown): void {
  if (!(error instanceof Error) || typeof error.message !== 'string') throw new Error(`not an Error: ${String(error)}`);
}

// Code an isolate may be asked to run. Endless ones always get a timeout (a sync call waiting
// for an isolate that loops forever is a hang by design, not a fault of the addon).
const snippets = [
  '1 + 1',
  'globalThis.n = (globalThis.n || 0) + 1',
  'new Promise(() => {})',
  'Promise.reject(new Error("rejected"))',
  'Promise.resolve().then(() => { throw new Error("late") })',
  'throw new TypeError("thrown")',
  'throw {}',
  'new Array(1e5).fill({ a: 1 }).length',
  'eval("1".repeat(1e6)).length',
  'new Uint8Array(new ArrayBuffer(16, { maxByteLength: 1024 })).fill(7)',
  'new Int32Array(new SharedArrayBuffer(64), 8, 4)',
  'import("nowhere")',
  'typeof host === "function" ? host(1) : 0',
  'typeof self_isolate === "object" ? self_isolate.dispose() : 0',
  '(() => { const b = new ArrayBuffer(64, { maxByteLength: 128 }); const v = new Uint8Array(b); b.resize(8); v })()',
] as const;
const endless = [
  'for (;;) {}',
  'const keep = []; for (;;) keep.push({ a: [1, 2, 3] })',
  '(function again() { Promise.resolve().then(again) })()',
];

const index = fc.nat(1000);
const timeouts = fc.constantFrom(undefined, 0, 5, 50, Infinity);
const transfers = fc.constantFrom({}, { copy: true }, { reference: true }, { promise: true });
const mode = fc.constantFrom('sync', 'async', 'ignored');
const value = fc.oneof(
  fc.anything({ maxDepth: 2, withTypedArray: true, withDate: true, withMap: true, withSet: true }),
  fc.constantFrom('resizable', 'shrunk', 'shared', 'detached', 'dataview').map((kind) => ({ special: kind })),
);

/** Makes the odd buffers `value` may ask for; the bytes are all 7, so a copy can be checked. */
// (resizable buffers are newer than the TypeScript library this repository targets)
interface Resizable extends ArrayBuffer {
  resize(length: number): void;
  readonly resizable: boolean;
}
const ResizableBuffer = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => Resizable;

export function materialise(v: unknown): unknown {
  const special = (v as { special?: string } | null)?.special;
  if (!special) return v;
  if (special === 'shared') return new Int32Array(new SharedArrayBuffer(64), 8, 4);
  const buffer = new ResizableBuffer(64, { maxByteLength: 1024 });
  new Uint8Array(buffer).fill(7);
  const view = special === 'dataview' ? new DataView(buffer, 8) : new Uint8Array(buffer, 8);
  if (special === 'shrunk') buffer.resize(12);
  if (special === 'detached') structuredClone(buffer, { transfer: [buffer] });
  return view;
}

export type Operation = { name: string; run: (world: World) => unknown };

const op = (name: string, run: (world: World) => unknown): Operation => ({ name, run });

const isolateOptions = fc.record({ limit: fc.constantFrom(8, 16, 32, 128, Infinity), atomics: fc.boolean() });
const newIsolate = isolateOptions.map(({ limit, atomics }) =>
  op(`new Isolate(${limit})`, (w) => {
    const isolate = new w.ivm.Isolate({ memoryLimit: limit, allowAtomicsWait: atomics });
    w.isolates.push(isolate);
    w.contexts.push(isolate.createContextSync());
  }),
);

export const operation: fc.Arbitrary<Operation> = fc.oneof(
  newIsolate,
  fc.tuple(index, mode).map(([i, m]) =>
    op(`createContext ${m}`, (w) => {
      const isolate = w.pick(w.isolates, i);
      if (!isolate) return;
      if (m === 'sync') w.contexts.push(isolate.createContextSync());
      else w.track(isolate.createContext().then((c) => w.contexts.push(c)));
    }),
  ),
  fc.tuple(index, fc.nat(snippets.length - 1), mode, timeouts, transfers).map(([i, s, m, timeout, transfer]) =>
    op(`eval ${snippets[s]} ${m}`, (w) => {
      const context = w.pick(w.contexts, i);
      if (!context) return;
      const options = { ...transfer, timeout };
      if (m === 'sync') w.track(context.evalSync(snippets[s], options));
      else if (m === 'async') w.track(context.eval(snippets[s], options));
      else context.evalIgnored(snippets[s], options);
    }),
  ),
  fc.tuple(index, fc.nat(endless.length - 1), fc.constantFrom('sync', 'async')).map(([i, s, m]) =>
    op(`endless ${endless[s]} ${m}`, (w) => {
      const context = w.pick(w.contexts, i);
      if (!context) return;
      if (m === 'sync') context.evalSync(endless[s], { timeout: 10 });
      else w.track(context.eval(endless[s], { timeout: 10 }));
    }),
  ),
  fc.tuple(index, fc.array(value, { maxLength: 4 })).map(([i, args]) =>
    op('evalClosure', (w) => {
      const context = w.pick(w.contexts, i);
      const options = { arguments: { copy: true }, result: { copy: true } };
      if (context) w.track(context.evalClosureSync('return $0', args.map(materialise), options));
    }),
  ),
  fc.tuple(index, value, fc.boolean()).map(([i, v, into]) =>
    op('ExternalCopy', (w) => {
      const source = materialise(v);
      const copy = new w.ivm.ExternalCopy(source);
      w.copies.push(copy);
      const back = copy.copy();
      checkBytes(source, back);
      const context = w.pick(w.contexts, i);
      if (into && context) context.global.setSync('copied', copy.copyInto({ transferIn: i % 2 === 0 }));
    }),
  ),
  fc.tuple(index, fc.constantFrom('get', 'set', 'apply', 'delete', 'copy')).map(([i, what]) =>
    op(`reference ${what}`, (w) => {
      const context = w.pick(w.contexts, i);
      if (!context) return;
      const global = context.global;
      w.references.push(global);
      if (what === 'get') w.track(global.get('n'));
      if (what === 'set') global.setSync('host', (x: number) => x + 1);
      const evaluate = () => global.getSync('eval', { reference: true }) as Native.Reference;
      if (what === 'apply') w.track(evaluate().apply(undefined, ['2 * 3']));
      if (what === 'delete') global.deleteIgnored('n');
      if (what === 'copy') w.track(global.copy());
    }),
  ),
  fc.tuple(index, fc.boolean()).map(([i, self]) =>
    op('hand the module object or the isolate in', (w) => {
      const context = w.pick(w.contexts, i);
      const isolate = w.pick(w.isolates, i);
      if (!context || !isolate) return;
      if (self) context.global.setSync('self_isolate', isolate);
      const nested =
        'const inner = new $0.Isolate({ memoryLimit: 8 }); return inner.createContext().then((c) => c.eval("1"))';
      if (!self) w.track(context.evalClosure(nested, [w.ivm], { result: { promise: true } }));
    }),
  ),
  fc.tuple(index, fc.nat(3)).map(([i, deps]) =>
    op('module graph', (w) => {
      const isolate = w.pick(w.isolates, i);
      if (!isolate) return;
      const context = isolate.createContextSync();
      const imports = Array.from({ length: deps }, (_, k) => `import * as m${k} from "m${k}";`).join('\n');
      const root = isolate.compileModuleSync(`${imports}\nexport default ${deps}`);
      const leaf = isolate.compileModuleSync('export const leaf = 1');
      w.modules.push(root, leaf);
      const resolve = (s: string) => (s.endsWith('2') ? Promise.resolve(leaf) : leaf);
      w.track(root.instantiate(context, resolve).then(() => root.evaluate({ timeout: 20 })));
    }),
  ),
  fc.tuple(index, fc.constantFrom(0, 5, -1)).map(([i, settleAfter]) =>
    op('applySyncPromise', (w) => {
      const context = w.pick(w.contexts, i);
      if (!context) return;
      const settle = (resolve: (value: number) => void) =>
        settleAfter >= 0 && setTimeout(() => resolve(1), settleAfter);
      const slow = new w.ivm.Reference(() => new Promise(settle));
      context.global.setSync('slow', slow);
      w.track(context.eval('slow.applySyncPromise(undefined, [], { timeout: 200 })'));
    }),
  ),
  index.map((i) => op('dispose', (w) => w.pick(w.isolates, i)?.dispose())),
  index.map((i) =>
    op('release', (w) => [w.pick(w.references, i), w.pick(w.copies, i), w.pick(w.contexts, i)][i % 3]?.release()),
  ),
  index.map((i) => op('heap statistics', (w) => w.track(w.pick(w.isolates, i)?.getHeapStatistics()))),
  fc.constant(op('gc', () => (globalThis as { gc?: () => void }).gc?.())),
  fc.nat(4).map((ms) => op(`sleep ${ms}`, () => new Promise((resolve) => setTimeout(resolve, ms)))),
);

/** A copy of a view of sevens holds only sevens (a copy never reads memory it does not own). */
function checkBytes(source: unknown, copy: unknown): void {
  if (!ArrayBuffer.isView(source) || !ArrayBuffer.isView(copy)) return;
  if (!(source.buffer instanceof ArrayBuffer) || !(source.buffer as Resizable).resizable) return;
  const bytes = new Uint8Array(copy.buffer);
  if (!bytes.every((b) => b === 7)) {
    throw new Error(`a copy holds bytes its source did not: ${[...bytes.slice(0, 32)]}`);
  }
}

/** A run: one to three isolates with a context each, then the operations. */
export const sequence: fc.Arbitrary<Operation[]> = fc
  .tuple(fc.array(newIsolate, { minLength: 1, maxLength: 3 }), fc.array(operation, { minLength: 1, maxLength: 40 }))
  .map(([setup, rest]) => [...setup, ...rest]);
