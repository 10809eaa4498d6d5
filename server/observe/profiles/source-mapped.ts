// Rewrites a tenant isolate's CPU profile so its frames name the files the tenant uploaded:
// each callFrame's url, line and column (0-based in DevTools profiles) and each per-line tick
// count go through the deployment's source maps (the same maps tenant-log stacks use). A frame
// without a map (islet's own runtime code, native frames, "(idle)") is kept as V8 reported it.
import type { CpuProfile, CpuProfileNode } from '../../host/isolate-api';
import type { SourceMapper } from '../tenant-logs/source-maps';

export async function sourceMapProfile(
  profile: CpuProfile,
  tenant: string,
  deployment: string,
  maps: SourceMapper,
): Promise<CpuProfile> {
  // DevTools groups frames by scriptId: one id per original file, so two files of one bundle differ
  const scriptIds = new Map<string, string>();
  const nodes = await Promise.all(
    profile.nodes.map(async (node): Promise<CpuProfileNode> => {
      const frame = node.callFrame;
      if (!frame.url || frame.lineNumber < 0) return node;
      const at = await maps.originalPosition(tenant, deployment, frame.url, frame.lineNumber + 1, frame.columnNumber);
      if (!at) return node;
      let scriptId = scriptIds.get(at.source);
      if (!scriptId) scriptIds.set(at.source, (scriptId = `islet-${scriptIds.size + 1}`));
      const mapped: CpuProfileNode = {
        ...node,
        callFrame: { ...frame, url: at.source, scriptId, lineNumber: at.line - 1, columnNumber: at.column },
      };
      if (node.positionTicks) mapped.positionTicks = await mapTicks(node, at.source, tenant, deployment, maps);
      return mapped;
    }),
  );
  return { ...profile, nodes };
}

/** The node's ticks per generated line, as ticks per line of its original file (lines elsewhere are left out). */
async function mapTicks(node: CpuProfileNode, source: string, tenant: string, deployment: string, maps: SourceMapper) {
  const byLine = new Map<number, number>();
  for (const tick of node.positionTicks ?? []) {
    const at = await maps.originalPosition(tenant, deployment, node.callFrame.url, tick.line, 0, { nextOnLine: true });
    if (at?.source === source) byLine.set(at.line, (byLine.get(at.line) ?? 0) + tick.ticks);
  }
  return [...byLine].map(([line, ticks]) => ({ line, ticks }));
}
