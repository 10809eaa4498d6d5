// Reads a V8 .cpuprofile (what `node --cpu-prof` writes) and answers "where does the time go":
// self time per function and per source file, as shares of all samples.
import fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileEntry {
  name: string;
  selfMs: number;
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** (idle) and (program) etc. are V8's own pseudo-frames */
  functions: ProfileEntry[];
  files: ProfileEntry[];
}

function shortUrl(url: string, root: string): string {
  if (!url) return '(native or V8)';
  const plain = url.replace(/^file:\/\//, '');
  if (plain.startsWith(root)) return plain.slice(root.length + 1);
  return plain;
}

export function summarizeProfile(file: string, root: string, top = 25): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const fnTotals = new Map<string, number>();
  const fileTotals = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const f = node.callFrame;
    const where = shortUrl(f.url, root);
    const name = `${f.functionName || '(anonymous)'} ${f.url ? `${where}:${f.lineNumber + 1}` : ''}`.trim();
    fnTotals.set(name, (fnTotals.get(name) ?? 0) + us);
    const fileKey = f.url ? where : f.functionName.startsWith('(') ? f.functionName : '(native or V8)';
    fileTotals.set(fileKey, (fileTotals.get(fileKey) ?? 0) + us);
    total += us;
  }
  const rank = (m: Map<string, number>): ProfileEntry[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfMs: us / 1000, share: total ? us / total : 0 }));
  return { totalMs: total / 1000, functions: rank(fnTotals), files: rank(fileTotals) };
}
