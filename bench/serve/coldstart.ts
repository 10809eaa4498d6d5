// Cold start of one tenant isolate, as the pool does it: new Isolate (tenant memory limit) ->
// createSandbox (shim bootstrap) -> compile the deployment's modules (with or without the code
// cache stored beside it) -> link -> evaluate -> bind the fetch handler. Measured in this
// process, one start at a time, for a ~100 KB and a ~1 MB deployment.
import { isolateApi } from '../../server/host/isolate-api';
import { loadDeployment, type ModuleSource } from '../../server/tenants/loader';
import { defaultCreateSandbox } from '../../server/tenants/sandbox-api';
import type { DeploymentManifest } from '../../server/store/types';
import { percentileSorted } from '../lib/stats';

/** An ES module of about `bytes` bytes: a handler plus many small functions it may call. */
export function syntheticModule(bytes: number): string {
  const parts = [
    "export default { fetch(request) { return new Response('ok ' + table.length); } };",
    'const table = [',
  ];
  let size = parts[0]!.length;
  for (let i = 0; size < bytes; i++) {
    const fn = `  function f${i}(a, b) { const s = 'value-${i}-' + a; return s.length > ${i % 97} ? s + b : b * ${i}; },\n`;
    parts.push(fn);
    size += fn.length;
  }
  parts.push('];');
  return parts.join('\n');
}

export interface ColdStartResult {
  sizeBytes: number;
  cache: boolean;
  runs: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

export async function measureColdStart(sizeBytes: number, cache: boolean, runs: number): Promise<ColdStartResult> {
  const code = Buffer.from(syntheticModule(sizeBytes));
  const manifest: DeploymentManifest = {
    id: 'bench',
    tenant: 'bench',
    hash: 'bench',
    createdAt: new Date().toISOString(),
    format: 'modules',
    entry: 'index.js',
    modules: [{ path: 'index.js', size: code.length, sha256: '' }],
    routes: [],
    warnings: [],
    size: code.length,
  };
  let stored: Buffer | null = null;
  const source: ModuleSource = {
    read: async () => code,
    readCache: async () => (cache ? stored : null),
    writeCache: (_p, data) => {
      stored = data;
    },
  };
  const { Isolate } = isolateApi();
  const createSandbox = defaultCreateSandbox();
  const limits = {
    cpuMs: 50,
    wallMs: 30_000,
    requestBodyBytes: 1 << 20,
    responseBodyBytes: 1 << 20,
    subrequests: 50,
    subrequestTimeoutMs: 1000,
    subrequestResponseBytes: 1 << 20,
    logBytes: 65536,
  };
  const once = async (): Promise<number> => {
    const began = process.hrtime.bigint();
    const isolate = new Isolate({ memoryLimit: 128 });
    const sandbox = await createSandbox(isolate, {
      tenant: 'bench',
      deployment: 'bench',
      env: {},
      limits,
      egress: { allow: [] },
      log: () => {},
    });
    await loadDeployment(isolate, sandbox, manifest, source, { startupTimeoutMs: 5000 });
    const ms = Number(process.hrtime.bigint() - began) / 1e6;
    sandbox.dispose();
    isolate.dispose();
    return ms;
  };
  // warm-up: the first starts also fill the shim bootstrap's cache and, with `cache`, produce the deployment's
  for (let i = 0; i < 3; i++) await once();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await once());
  times.sort((a, b) => a - b);
  return {
    sizeBytes: code.length,
    cache,
    runs,
    p50Ms: percentileSorted(times, 50),
    p99Ms: percentileSorted(times, 99),
    meanMs: times.reduce((a, b) => a + b, 0) / times.length,
  };
}
