// Memory per idle tenant, scaled to 1,000 tenants.
// - islet: one server process; N tenants are deployed first (the store and router hold them),
//   RSS is read, then each gets one request (so each has a warm isolate), and RSS is read again
//   once they are idle: the difference is what N loaded, idle tenant isolates cost.
// - workerd: the same module as 1 service and as N services (one worker, one isolate and one
//   socket each) in a fresh process, every service answered once; the difference of the two
//   RSS values is what N-1 extra workers cost.
// RSS is read from /proc (VmRSS) and summed over the server's node processes (esbuild's helper
// process, which islet runs for deployments, is left out).
import fs from 'node:fs';
import path from 'node:path';
import { request } from '../lib/http';
import { sleep } from '../lib/proc';
import type { MemoryResult } from './results';
import { startIslet } from './systems/islet';
import { startWorkerd } from './systems/workerd';
import type { SystemContext } from './system';

const SETTLE_MS = 2000;

export async function runMemory(
  ctx: SystemContext,
  tenants: number,
  log: (line: string) => void,
): Promise<MemoryResult[]> {
  const results: MemoryResult[] = [];
  for (const [name, measure] of [
    ['islet', isletMemory],
    ['workerd', workerdMemory],
  ] as const) {
    try {
      const r = await measure(ctx, tenants);
      results.push(r);
      log(
        `  memory ${name}: ${r.rssPer1000Bytes !== undefined ? `${(r.rssPer1000Bytes / 2 ** 20).toFixed(1)} MiB per 1,000 idle tenants` : r.error}`,
      );
    } catch (err) {
      log(`  memory ${name}: ${(err as Error).message.split('\n')[0]}`);
      results.push({ system: name, measures: '', tenants, error: (err as Error).message });
    }
  }
  return results;
}

function per1000(before: number, after: number, count: number): number {
  return ((after - before) / count) * 1000;
}

async function isletMemory(ctx: SystemContext, tenants: number): Promise<MemoryResult> {
  const source = fs.readFileSync(path.join(ctx.repoRoot, 'bench/peers/workload/worker.mjs'));
  const server = await startIslet(ctx, 'islet-mem', {
    env: {
      ISLET_POOL_MAX_ISOLATES: String(tenants + 100),
      ISLET_POOL_IDLE_TIMEOUT_S: '3600',
      ISLET_POOL_MAX_MEMORY_MB: String(Math.max(4096, tenants * 16)),
    },
  });
  try {
    const names = Array.from({ length: tenants }, (_, i) => `m${i}`);
    for (const t of names) await server.deploy(t, source);
    await sleep(SETTLE_MS);
    const before = server.proc.rssBytes(process.execPath);
    let failures = 0;
    for (const t of names) {
      const res = await request(`http://127.0.0.1:${server.port}/hello`, { headers: server.tenantHeaders(t) });
      if (res.status !== 200) failures++;
    }
    if (failures) throw new Error(`${failures} of ${tenants} tenants did not answer 200`);
    await sleep(SETTLE_MS);
    const after = server.proc.rssBytes(process.execPath);
    return {
      system: 'islet',
      measures: `RSS of the islet process with ${tenants} deployed tenants, before and after each served one request (isolates warm, then idle)`,
      tenants,
      rssBeforeBytes: before,
      rssAfterBytes: after,
      rssPer1000Bytes: per1000(before, after, tenants),
    };
  } finally {
    await server.proc.stop();
  }
}

async function workerdRss(ctx: SystemContext, services: number): Promise<number> {
  const { proc, ports } = await startWorkerd(ctx, `workerd-mem-${services}`, services, 120_000);
  try {
    for (const port of ports) {
      const res = await request(`http://127.0.0.1:${port}/hello`);
      if (res.status !== 200) throw new Error(`workerd service on port ${port} answered ${res.status}`);
    }
    await sleep(SETTLE_MS);
    return proc.rssBytes();
  } finally {
    await proc.stop();
  }
}

async function workerdMemory(ctx: SystemContext, tenants: number): Promise<MemoryResult> {
  const before = await workerdRss(ctx, 1);
  const after = await workerdRss(ctx, tenants);
  return {
    system: 'workerd',
    measures: `RSS of a workerd process serving the module as 1 service and as ${tenants} services (one worker and socket each), each answered once`,
    tenants,
    rssBeforeBytes: before,
    rssAfterBytes: after,
    rssPer1000Bytes: per1000(before, after, tenants - 1),
  };
}
