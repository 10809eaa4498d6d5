// Maps a tenant's JavaScript stack (frames such as `    at handler (file:///app/index.js:12:7)`,
// as the addon reports them in error.isolateStack and error stacks) back to the files the tenant
// wrote, through the source maps the deploy step stores beside each built module. Tenants read
// these stacks in their logs when a limit cuts a request or their handler throws; a stack
// pointing into esbuild's output would tell them little.
import path from 'node:path';
import { LRUCache } from 'lru-cache';
import { SourceMapConsumer } from 'source-map-js';
import type { DeploymentManifest, DeploymentStore } from '../../store/types';

export type SourceMapStore = Pick<DeploymentStore, 'getDeployment' | 'readFile'>;

/** One frame with a file URL, line and column; everything around the location is kept as written. */
const FRAME = /^(\s*at\s+(?:.*?\()?)(file:\/\/[^\s()]+?):(\d+):(\d+)(\)?\s*)$/;

interface LoadedMap {
  consumer: SourceMapConsumer;
  /** each source of the map -> the path shown to the tenant */
  display: Map<string, string>;
}

export interface SourceMapperOptions {
  /** parsed source maps kept in memory (they can be large); default 64 */
  maxMaps?: number;
}

export class SourceMapper {
  #store: SourceMapStore;
  #manifests: LRUCache<string, DeploymentManifest | false>;
  #maps: LRUCache<string, LoadedMap | false>;

  constructor(store: SourceMapStore, options: SourceMapperOptions = {}) {
    this.#store = store;
    // deployments are immutable, so a cached manifest or map never goes stale; `false` caches
    // "there is none" so a stack from a map-less deployment does not hit the store every time
    this.#manifests = new LRUCache({ max: 256 });
    this.#maps = new LRUCache({ max: options.maxMaps ?? 64 });
  }

  /**
   * Rewrites every frame of `stack` that points into a module with a source map to the original
   * `file:line:column`; frames it cannot map (no map, no mapping, another file) stay as they
   * were. Never throws: a broken map must not hide the stack it was asked to improve.
   */
  async mapStack(tenant: string, deployment: string, stack: string): Promise<string> {
    if (!stack.includes('file://')) return stack;
    const manifest = await this.#manifest(tenant, deployment);
    if (!manifest) return stack;
    const lines = stack.split('\n');
    const mapped = await Promise.all(lines.map((line) => this.#mapLine(manifest, line)));
    return mapped.join('\n');
  }

  async #mapLine(manifest: DeploymentManifest, line: string): Promise<string> {
    const match = FRAME.exec(line);
    if (!match) return line;
    const [, before, url, lineText, columnText, after] = match;
    const module = findModule(manifest, url);
    if (!module?.sourceMap) return line;
    const map = await this.#map(manifest, module.sourceMap);
    if (!map) return line;
    // V8 columns are 1-based, source-map columns 0-based; lines are 1-based in both
    const original = map.consumer.originalPositionFor({
      line: Number(lineText),
      column: Math.max(0, Number(columnText) - 1),
    });
    if (original.source == null || original.line == null) return line;
    const source = map.display.get(original.source) ?? original.source;
    return `${before}${source}:${original.line}:${(original.column ?? 0) + 1}${after}`;
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
      this.#manifests.set(key, manifest);
    }
    return manifest || null;
  }

  async #map(manifest: DeploymentManifest, mapPath: string): Promise<LoadedMap | null> {
    const key = `${manifest.tenant}\0${manifest.id}\0${mapPath}`;
    let map = this.#maps.get(key);
    if (map === undefined) {
      try {
        const raw = await this.#store.readFile(manifest.tenant, manifest.id, mapPath);
        const consumer = new SourceMapConsumer(JSON.parse(raw.toString('utf8')));
        map = { consumer, display: displayPaths(consumer.sources) };
      } catch {
        map = false;
      }
      this.#maps.set(key, map);
    }
    return map || null;
  }
}

/** The module a frame URL names: the longest module path the URL's path ends with. */
function findModule(manifest: DeploymentManifest, url: string) {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url).pathname);
  } catch {
    return undefined;
  }
  let best: DeploymentManifest['modules'][number] | undefined;
  for (const module of manifest.modules) {
    const fits = pathname === `/${module.path}` || pathname.endsWith(`/${module.path}`);
    if (fits && (!best || module.path.length > best.path.length)) best = module;
  }
  return best;
}

/**
 * Sources as the tenant knows them: paths in their upload. islet's build (server/deploy/build.ts)
 * writes each map's sources as paths from the upload's root (`src/a.ts`), so a relative source
 * is shown as written. Sources that climb out (`../../tmp/build-x/src/a.ts`) or are absolute
 * name the build host's folders, not the tenant's: the longest folder all such sources share is
 * cut (`src/a.ts`) rather than shown.
 */
function displayPaths(sources: readonly string[]): Map<string, string> {
  const normalized = sources.map((source) => path.posix.normalize(source.replace(/^file:\/\//, '')));
  const isOutside = (p: string) => p.startsWith('../') || p.startsWith('/');
  const outside = normalized.filter(isOutside);
  let common = outside.length ? path.posix.dirname(outside[0]) : '';
  for (const p of outside) {
    while (common !== '' && !p.startsWith(common + '/')) {
      const parent = path.posix.dirname(common);
      common = parent === common || parent === '.' ? '' : parent;
    }
  }
  const display = new Map<string, string>();
  sources.forEach((source, i) => {
    let shown = normalized[i];
    if (isOutside(shown) && common !== '' && common !== '/') shown = shown.slice(common.length + 1);
    display.set(source, shown.replace(/^(\.\.\/)+/, '').replace(/^\/+/, ''));
  });
  return display;
}
