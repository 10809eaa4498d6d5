// What a deployment was made from, for the source browser and the diff between two versions
// (dashboard, `islet deployments diff`). Stored deployments hold built modules and their source
// maps; esbuild writes the original files into each map (`sourcesContent`), so the files the
// tenant wrote are read back from there, under the paths of their upload. A module without a map
// is shown as built. Diffs are computed here with jsdiff, bounded in input size and time so a
// comparison of two large versions cannot hold a worker's event loop.
import { structuredPatch } from 'diff';
import type { DeploymentManifest, DeploymentStore } from '../store/types';

export interface SourceFile {
  path: string;
  text: string;
  /** `source`: a file the tenant uploaded (from a source map); `module`: a built module without a map */
  kind: 'source' | 'module';
}

/** files larger than this are listed in a diff but not compared line by line */
const maxDiffChars = 512 * 1024;
/** time one file's comparison may take before it is reported as too different to show */
const diffTimeoutMs = 200;

function sourcePath(source: string): string {
  // build.ts writes sources as paths from the upload's root; keep anything else readable
  return source
    .replace(/^[a-z][a-z0-9+.-]*:(\/\/)?/i, '')
    .replace(/^(\.\.\/)+/, '')
    .replace(/^\/+/, '');
}

/** The files a deployment was built from, sorted by path. */
export async function deploymentSources(
  store: Pick<DeploymentStore, 'readFile'>,
  manifest: DeploymentManifest,
): Promise<SourceFile[]> {
  const files = new Map<string, SourceFile>();
  for (const module of manifest.modules) {
    let mapped = false;
    if (module.sourceMap) {
      try {
        const map = JSON.parse((await store.readFile(manifest.tenant, manifest.id, module.sourceMap)).toString('utf8'));
        const sources: string[] = Array.isArray(map.sources) ? map.sources : [];
        const contents: (string | null)[] = Array.isArray(map.sourcesContent) ? map.sourcesContent : [];
        sources.forEach((source, i) => {
          const text = contents[i];
          if (typeof text !== 'string') return;
          const shown = sourcePath(String(source));
          if (shown && !files.has(shown)) files.set(shown, { path: shown, text, kind: 'source' });
          mapped = true;
        });
      } catch {
        // an unreadable map: the built module is shown instead
      }
    }
    if (!mapped) {
      const text = (await store.readFile(manifest.tenant, manifest.id, module.path)).toString('utf8');
      if (!files.has(module.path)) files.set(module.path, { path: module.path, text, kind: 'module' });
    }
  }
  return [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export interface FileDiff {
  path: string;
  status: 'added' | 'removed' | 'modified' | 'unchanged';
  additions: number;
  deletions: number;
  /** unified diff text of a modified, added or removed file, when it was compared */
  patch?: string;
  /** why there is no patch (too large, too different) */
  note?: string;
}

function unified(
  path: string,
  from: string,
  to: string,
): { patch?: string; additions: number; deletions: number; note?: string } {
  if (from.length > maxDiffChars || to.length > maxDiffChars)
    return { additions: 0, deletions: 0, note: `larger than ${maxDiffChars / 1024} KiB: not compared line by line` };
  const result = structuredPatch(`a/${path}`, `b/${path}`, from, to, undefined, undefined, {
    context: 3,
    timeout: diffTimeoutMs,
  });
  if (!result) return { additions: 0, deletions: 0, note: 'too different to compare in time' };
  let additions = 0;
  let deletions = 0;
  const lines = [`--- ${from === '' ? '/dev/null' : `a/${path}`}`, `+++ ${to === '' ? '/dev/null' : `b/${path}`}`];
  for (const hunk of result.hunks) {
    lines.push(`@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`);
    for (const line of hunk.lines) {
      if (line.startsWith('+')) additions++;
      else if (line.startsWith('-')) deletions++;
      lines.push(line);
    }
  }
  return { patch: lines.join('\n'), additions, deletions };
}

/** File by file: what changed from `from` to `to`. */
export function diffSources(from: SourceFile[], to: SourceFile[]): FileDiff[] {
  const before = new Map(from.map((f) => [f.path, f.text]));
  const after = new Map(to.map((f) => [f.path, f.text]));
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort();
  return paths.map((path): FileDiff => {
    const a = before.get(path);
    const b = after.get(path);
    if (a === b) return { path, status: 'unchanged', additions: 0, deletions: 0 };
    const status = a === undefined ? 'added' : b === undefined ? 'removed' : 'modified';
    return { path, status, ...unified(path, a ?? '', b ?? '') };
  });
}
