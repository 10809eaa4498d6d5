// Maps a tenant's JavaScript stack (frames such as `    at handler (file:///app/index.js:12:7)`,
// as the addon reports them in error.isolateStack and error stacks) back to the files the tenant
// wrote, through the source maps the deploy step stores beside each built module. Tenants read
// these stacks in their logs when a limit cuts a request or their handler throws; a stack
// pointing into esbuild's output would tell them little.
//
// Mapping is bounded, because a tenant decides how often it happens and how big the maps are:
// at most `maxFrames` frames of a stack are mapped; a small map (up to `inlineMapBytes`, a
// millisecond's parse) is parsed here, any larger one on a worker thread (source-map-worker.ts),
// never on the serving event loop; a stack waits at most `budgetMs` for the thread and is logged
// as it was past it (a thread stuck on a huge map is replaced, and that map is not tried again);
// maps over `maxMapBytes` are not read at all.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { LRUCache } from 'lru-cache';
import type { DeploymentManifest, DeploymentStore } from '../../store/types';
import {
  lookupPositions,
  parseMap,
  type LoadedMap,
  type LookupReply,
  type LookupRequest,
  type Position,
} from './source-map-worker';

export type SourceMapStore = Pick<DeploymentStore, 'getDeployment' | 'readFile'>;

/** One frame with a file URL, line and column; everything around the location is kept as written. */
const FRAME = /^(\s*at\s+(?:.*?\()?)(file:\/\/[^\s()]+?):(\d+):(\d+)(\)?\s*)$/;

export interface SourceMapperOptions {
  /** how long one stack may wait for its mapping (ms); default 2000 */
  budgetMs?: number;
  /** source maps larger than this are not used (bytes); default 32 MiB */
  maxMapBytes?: number;
  /** frames of one stack that are mapped; default 64 */
  maxFrames?: number;
  /** maps up to this size are parsed on the calling thread (bytes); default 64 KiB */
  inlineMapBytes?: number;
}

const workerScript = path.join(__dirname, 'source-map-worker.js');

interface Frame {
  line: number;
  before: string;
  after: string;
  position: Position;
}

export class SourceMapper {
  readonly #store: SourceMapStore;
  readonly #budgetMs: number;
  readonly #maxMapBytes: number;
  readonly #maxFrames: number;
  readonly #inlineMapBytes: number;
  /** small maps parsed on this thread, bounded by the size of their text */
  readonly #inline = new LRUCache<string, LoadedMap>({ maxSize: 16 * 1024 * 1024, sizeCalculation: (m) => m.size });
  readonly #manifests = new LRUCache<string, DeploymentManifest | false>({ max: 256 });
  /** maps that failed (unreadable, unparsable, too large, too slow): their frames stay as they are */
  readonly #broken = new LRUCache<string, true>({ max: 4096 });
  #worker: Worker | undefined;
  readonly #pending = new Map<number, (reply: LookupReply | null) => void>();
  /** maps being parsed by the thread now: if it dies or is stopped, they are the suspects */
  readonly #loading = new Set<string>();
  #nextId = 0;

  constructor(store: SourceMapStore, options: SourceMapperOptions = {}) {
    this.#store = store;
    this.#budgetMs = options.budgetMs ?? 2000;
    this.#maxMapBytes = options.maxMapBytes ?? 32 * 1024 * 1024;
    this.#maxFrames = options.maxFrames ?? 64;
    this.#inlineMapBytes = options.inlineMapBytes ?? 64 * 1024;
  }

  /**
   * Rewrites every frame of `stack` that points into a module with a source map to the original
   * `file:line:column`; frames it cannot map (no map, no mapping, another file, out of budget)
   * stay as they were. Never throws: a broken map must not hide the stack it was asked to improve.
   */
  async mapStack(tenant: string, deployment: string, stack: string): Promise<string> {
    if (!stack.includes('file://')) return stack;
    const manifest = await this.#manifest(tenant, deployment);
    if (!manifest) return stack;
    const lines = stack.split('\n');
    const byMap = new Map<string, Frame[]>();
    let frames = 0;
    for (let i = 0; i < lines.length && frames < this.#maxFrames; i++) {
      const match = FRAME.exec(lines[i]!);
      if (!match) continue;
      frames++;
      const [, before, url, lineText, columnText, after] = match;
      const mapPath = findModule(manifest, url!)?.sourceMap;
      if (!mapPath) continue;
      // V8 columns are 1-based, source-map columns 0-based; lines are 1-based in both
      const frame: Frame = {
        line: i,
        before: before!,
        after: after!,
        position: [Number(lineText), Math.max(0, Number(columnText) - 1)],
      };
      const list = byMap.get(mapPath);
      if (list) list.push(frame);
      else byMap.set(mapPath, [frame]);
    }
    const deadline = Date.now() + this.#budgetMs;
    await Promise.all(
      [...byMap].map(async ([mapPath, list]) => {
        const found = await this.#lookup(manifest, mapPath, list, deadline);
        list.forEach((frame, i) => {
          const hit = found?.[i];
          if (hit) lines[frame.line] = `${frame.before}${hit[0]}:${hit[1]}:${hit[2] + 1}${frame.after}`;
        });
      }),
    );
    return lines.join('\n');
  }

  /**
   * Where generated `url` at `line` (1-based) and `column` (0-based) comes from in the tenant's
   * upload: the source's path as the tenant knows it, a 1-based line and a 0-based column; null
   * when there is no map or no mapping (or it took longer than the budget). Never throws.
   * `nextOnLine`: the first mapping at or after `column` on the line (a line without a column).
   */
  async originalPosition(
    tenant: string,
    deployment: string,
    url: string,
    line: number,
    column: number,
    options: { nextOnLine?: boolean } = {},
  ): Promise<{ source: string; line: number; column: number } | null> {
    const manifest = await this.#manifest(tenant, deployment);
    const mapPath = manifest ? findModule(manifest, url)?.sourceMap : undefined;
    if (!manifest || !mapPath) return null;
    const position: Position = options.nextOnLine ? [line, column, 1] : [line, column];
    const frame: Frame = { line: 0, before: '', after: '', position };
    const found = await this.#lookup(manifest, mapPath, [frame], Date.now() + this.#budgetMs);
    const hit = found?.[0];
    return hit ? { source: hit[0], line: hit[1], column: hit[2] } : null;
  }

  /** stops the mapping thread (a later mapStack starts another) */
  close(): void {
    this.#restart();
  }

  async #lookup(
    manifest: DeploymentManifest,
    mapPath: string,
    frames: Frame[],
    deadline: number,
  ): Promise<LookupReply['found'] | null> {
    const key = `${manifest.tenant}\0${manifest.id}\0${mapPath}`;
    if (this.#broken.has(key)) return null;
    const positions = frames.map((f) => f.position);
    const small = this.#inline.get(key);
    if (small) return lookupPositions(small, positions);
    let reply = this.#worker
      ? await this.#ask({ key, positions }, deadline)
      : ({ id: 0, missing: true } as LookupReply);
    if (reply?.missing) {
      let raw: string;
      try {
        const data = await this.#store.readFile(manifest.tenant, manifest.id, mapPath);
        if (data.length > this.#maxMapBytes) {
          this.#broken.set(key, true);
          return null;
        }
        raw = data.toString('utf8');
      } catch {
        this.#broken.set(key, true);
        return null;
      }
      if (raw.length <= this.#inlineMapBytes) {
        try {
          const map = parseMap(raw);
          this.#inline.set(key, map);
          return lookupPositions(map, positions);
        } catch {
          this.#broken.set(key, true);
          return null;
        }
      }
      this.#loading.add(key);
      reply = await this.#ask({ key, raw, positions }, deadline);
      this.#loading.delete(key);
    }
    if (reply?.broken) this.#broken.set(key, true);
    return reply?.found ?? null;
  }

  /** one request to the thread; null when it did not answer by `deadline` (or died) */
  #ask(request: Omit<LookupRequest, 'id'>, deadline: number): Promise<LookupReply | null> {
    const worker = this.#thread();
    const id = ++this.#nextId;
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          // give up on this stack; a thread stuck parsing a map (a huge one) is replaced, and the
          // map is not tried again (a thread merely slow to start is left to start)
          this.#pending.delete(id);
          if (this.#loading.size > 0) this.#restart();
          resolve(null);
        },
        Math.max(0, deadline - Date.now()),
      );
      timer.unref();
      // the thread keeps the process alive while someone waits on it, and only then
      worker.ref();
      this.#pending.set(id, (reply) => {
        clearTimeout(timer);
        if (this.#pending.size === 0) worker.unref();
        resolve(reply);
      });
      worker.postMessage({ id, ...request } satisfies LookupRequest);
    });
  }

  #thread(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(workerScript, { resourceLimits: { maxOldGenerationSizeMb: 1024 } });
    worker.on('message', (reply: LookupReply) => {
      const settle = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      settle?.(reply);
    });
    const gone = () => {
      if (this.#worker === worker) this.#stopped();
    };
    worker.on('error', gone);
    worker.on('exit', gone);
    // an idle mapping thread must not keep the process alive
    worker.unref();
    this.#worker = worker;
    return worker;
  }

  #restart(): void {
    const worker = this.#worker;
    if (!worker) return;
    this.#stopped();
    void worker.terminate().catch(() => {});
  }

  /** the thread is gone: what it was parsing is not tried again, what waited on it gets no answer */
  #stopped(): void {
    this.#worker = undefined;
    for (const key of this.#loading) this.#broken.set(key, true);
    this.#loading.clear();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const settle of pending) settle(null);
  }

  async #manifest(tenant: string, deployment: string): Promise<DeploymentManifest | null> {
    const key = `${tenant}\0${deployment}`;
    let manifest = this.#manifests.get(key);
    if (manifest === undefined) {
      try {
        manifest = (await this.#store.getDeployment(tenant, deployment)) ?? false;
      } catch {
        manifest = false;
      }
      // deployments are immutable: a cached manifest (or its absence) never goes stale
      this.#manifests.set(key, manifest);
    }
    return manifest || null;
  }
}

type ModuleRecord = DeploymentManifest['modules'][number];

/** each manifest's modules by path, so a frame finds its module without a walk over thousands */
const modulesByPath = new WeakMap<DeploymentManifest, Map<string, ModuleRecord>>();

/** The module a frame URL names: the module at the URL's path, else the longest module path it ends with. */
function findModule(manifest: DeploymentManifest, url: string) {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url).pathname);
  } catch {
    return undefined;
  }
  let byPath = modulesByPath.get(manifest);
  if (!byPath) modulesByPath.set(manifest, (byPath = new Map(manifest.modules.map((m) => [m.path, m]))));
  const exact = byPath.get(pathname.slice(1));
  if (exact) return exact;
  let best: ModuleRecord | undefined;
  for (const module of manifest.modules) {
    const fits = pathname === `/${module.path}` || pathname.endsWith(`/${module.path}`);
    if (fits && (!best || module.path.length > best.path.length)) best = module;
  }
  return best;
}
