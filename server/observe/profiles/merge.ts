// One DevTools profile out of several: a tenant may have more than one isolate while it is
// profiled (a redeploy's new and draining ones, or one per worker process). Their trees hang
// under one "(root)" and their samples are interleaved by time, so the file opens in Chrome
// DevTools (and islet's flame view) as a single recording.
import type { CpuProfile, CpuProfileNode } from '../../host/isolate-api';

const ROOT_ID = 1;

/** A profile with a root node and nothing sampled: what a tenant that never ran during the window gets. */
export function emptyProfile(startTime: number, endTime: number): CpuProfile {
  return {
    nodes: [rootNode([])],
    startTime,
    endTime,
    samples: [],
    timeDeltas: [],
  };
}

function rootNode(children: number[]): CpuProfileNode {
  const callFrame = { functionName: '(root)', scriptId: '0', url: '', lineNumber: -1, columnNumber: -1 };
  return { id: ROOT_ID, callFrame, hitCount: 0, children };
}

export function mergeProfiles(profiles: CpuProfile[]): CpuProfile {
  if (profiles.length === 1) return profiles[0];
  if (profiles.length === 0) return emptyProfile(0, 0);
  const root = rootNode([]);
  const nodes: CpuProfileNode[] = [root];
  const timed: { time: number; id: number }[] = [];
  let nextId = ROOT_ID + 1;
  for (const profile of profiles) {
    const parents = new Set(profile.nodes.flatMap((n) => n.children));
    const ids = new Map<number, number>();
    for (const node of profile.nodes) ids.set(node.id, parents.has(node.id) ? nextId++ : ROOT_ID);
    for (const node of profile.nodes) {
      const children = node.children.map((c) => ids.get(c)!);
      if (ids.get(node.id) === ROOT_ID) {
        root.children.push(...children);
        root.hitCount += node.hitCount;
      } else nodes.push({ ...node, id: ids.get(node.id)!, children });
    }
    let time = profile.startTime;
    profile.samples.forEach((id, i) => {
      time += profile.timeDeltas[i] ?? 0;
      timed.push({ time, id: ids.get(id) ?? ROOT_ID });
    });
  }
  timed.sort((a, b) => a.time - b.time);
  const startTime = Math.min(...profiles.map((p) => p.startTime));
  const endTime = Math.max(...profiles.map((p) => p.endTime));
  let last = startTime;
  const timeDeltas = timed.map(({ time }) => {
    const delta = time - last;
    last = time;
    return delta;
  });
  return { nodes, startTime, endTime, samples: timed.map((t) => t.id), timeDeltas };
}
