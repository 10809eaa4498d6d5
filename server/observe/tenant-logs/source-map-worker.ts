// The thread that parses source maps and looks positions up in them (source-maps.ts starts it).
// Parsing a map's `mappings` is synchronous and grows with the bundle: a 1.9 MB map took 0.5 s
// on a loaded machine at its first lookup, on the serving event loop, and any tenant can make
// islet map a stack (throw once per new deployment). Here it costs this thread instead, and the
// caller gives up waiting after its budget (and replaces the thread if it is stuck).
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import { LRUCache } from 'lru-cache';
import { SourceMapConsumer } from 'source-map-js';

/** a generated position: line (1-based), column (0-based), and 1 to take the next mapping on the line */
export type Position = [line: number, column: number, next?: 1];

export interface LookupRequest {
  id: number;
  key: string;
  /** the map's text, when the caller learned this thread does not hold it */
  raw?: string;
  /** [line (1-based), column (0-based)] */
  /** [line (1-based), column (0-based), 1 for the first mapping at or after the column] */
  positions: Position[];
}

export interface LookupReply {
  id: number;
  /** this thread does not hold the map: send it again with `raw` */
  missing?: boolean;
  /** the map could not be parsed */
  broken?: boolean;
  /** per position: [shown source path, line, column (0-based)], or null when unmapped */
  found?: ([string, number, number] | null)[];
}

export interface LoadedMap {
  consumer: SourceMapConsumer;
  /** each source of the map -> the path shown to the tenant */
  display: Map<string, string>;
  /** characters of the map's text, what the cache is bounded by */
  size: number;
}

/** parsed maps kept, bounded by the size of their text (parsed maps take a few times more) */
const maps = new LRUCache<string, LoadedMap>({ maxSize: 256 * 1024 * 1024, sizeCalculation: (m) => m.size });

/** parses a map's text (throws on a broken map) */
export function parseMap(raw: string): LoadedMap {
  const consumer = new SourceMapConsumer(JSON.parse(raw));
  return { consumer, display: displayPaths(consumer.sources), size: Math.max(1, raw.length) };
}

function lookup(request: LookupRequest): LookupReply {
  let map = maps.get(request.key);
  if (!map) {
    if (request.raw === undefined) return { id: request.id, missing: true };
    try {
      const loaded = parseMap(request.raw);
      maps.set(request.key, loaded);
      map = loaded;
    } catch {
      return { id: request.id, broken: true };
    }
  }
  return { id: request.id, found: lookupPositions(map, request.positions) };
}

/** the original [shown source, line, column] of each position, or null where there is none */
export function lookupPositions(map: LoadedMap, positions: Position[]): NonNullable<LookupReply['found']> {
  return positions.map(([line, column, next]) => {
    try {
      const bias = next ? SourceMapConsumer.LEAST_UPPER_BOUND : SourceMapConsumer.GREATEST_LOWER_BOUND;
      const original = map.consumer.originalPositionFor({ line, column, bias });
      if (original.source == null || original.line == null) return null;
      return [map.display.get(original.source) ?? original.source, original.line, original.column ?? 0] as [
        string,
        number,
        number,
      ];
    } catch {
      return null;
    }
  });
}

/**
 * Sources as the tenant knows them: paths in their upload. islet's build (server/deploy/build.ts)
 * writes each map's sources as paths from the upload's root (`src/a.ts`), so a relative source
 * is shown as written. Sources that climb out (`../../tmp/build-x/src/a.ts`) or are absolute
 * name the build host's folders, not the tenant's: the longest folder all such sources share is
 * cut (`src/a.ts`) rather than shown.
 */
export function displayPaths(sources: readonly string[]): Map<string, string> {
  const normalized = sources.map((source) => path.posix.normalize(source.replace(/^file:\/\//, '')));
  const isOutside = (p: string) => p.startsWith('../') || p.startsWith('/');
  const outside = normalized.filter(isOutside);
  let common = outside.length ? path.posix.dirname(outside[0]!) : '';
  for (const p of outside) {
    while (common !== '' && !p.startsWith(`${common}/`)) {
      const parent = path.posix.dirname(common);
      common = parent === common || parent === '.' ? '' : parent;
    }
  }
  const display = new Map<string, string>();
  sources.forEach((source, i) => {
    let shown = normalized[i]!;
    if (isOutside(shown) && common !== '' && common !== '/') shown = shown.slice(common.length + 1);
    display.set(source, shown.replace(/^(\.\.\/)+/, '').replace(/^\/+/, ''));
  });
  return display;
}

parentPort?.on('message', (request: LookupRequest) => parentPort!.postMessage(lookup(request)));
