// What the profile tests share: a TypeScript tenant with a CPU-heavy function at a known line, a
// load loop against it, and the checks a `.cpuprofile` of it must pass.
import assert from 'node:assert/strict';
import { request } from 'undici';

const indexTs = `import { burn } from './burn';

interface Answer { total: number }

export default {
  async fetch(request: Request): Promise<Response> {
    const answer: Answer = { total: burn(20) };
    return new Response(String(answer.total));
  },
};
`;
const burnTs = `// spends roughly \`ms\` of CPU (a count of steps: a tenant's clock stands still while it runs)
export function burn(ms: number): number {
  const steps: number = ms * 100_000;
  let total = 0;
  for (let i = 0; i < steps; i++) {
    total += Math.sqrt(total + 1);
  }
  return total;
}
`;

export const profileSource = { 'src/index.ts': indexTs, 'src/burn.ts': burnTs };
/** 1-based line of `burn` in src/burn.ts */
export const BURN_LINE = 2;

/** Sends requests to `host` back to back until the returned function is called. */
export function hammer(url: string, host: string): () => Promise<void> {
  let running = true;
  const loop = (async () => {
    while (running) {
      const res = await request(url, { headers: { host } });
      await res.body.text();
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number; scriptId: string };
  hitCount: number;
  children: number[];
  positionTicks?: { line: number; ticks: number }[];
}

/** A DevTools Profiler.Profile whose samples land in `burn` at src/burn.ts:`line`. */
export function checkProfile(
  profile: { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number },
  line: number,
): void {
  assert.ok(Array.isArray(profile.nodes) && profile.nodes.length > 1, 'nodes');
  assert.equal(profile.samples.length, profile.timeDeltas.length, 'one time delta per sample');
  assert.ok(profile.endTime >= profile.startTime);
  const ids = new Set(profile.nodes.map((n) => n.id));
  for (const n of profile.nodes) for (const c of n.children) assert.ok(ids.has(c), `child ${c} of ${n.id} exists`);
  for (const s of profile.samples) assert.ok(ids.has(s), `sample ${s} names a node`);
  const burn = profile.nodes.filter((n) => n.callFrame.functionName === 'burn');
  assert.ok(burn.length > 0, `a node for burn: ${profile.nodes.map((n) => n.callFrame.functionName).join(', ')}`);
  for (const n of burn) {
    assert.equal(n.callFrame.url, 'src/burn.ts', 'the uploaded file, not the built one');
    // 0-based in DevTools profiles: the function's first line, or (optimized code entered on
    // stack replacement) its loop's; either way a line of burn in the uploaded TypeScript
    const at = n.callFrame.lineNumber + 1;
    assert.ok(at >= line && at <= line + 7, `burn at src/burn.ts:${at}, a line of burn (${line}-${line + 7})`);
  }
  const hits = burn.reduce((sum, n) => sum + n.hitCount, 0);
  assert.ok(hits > 5, `burn was sampled (${hits} hits)`);
  const ticks = burn.flatMap((n) => n.positionTicks ?? []);
  assert.ok(
    ticks.some((t) => t.line >= 3 && t.line <= 7),
    `ticks on burn's loop lines: ${JSON.stringify(ticks)}`,
  );
}
