// A diagnostic beside the soak: when RSS grows under the churn variant, is it the isolate
// lifecycle itself? This creates and disposes isolates in one process, nothing else running,
// and prints RSS (after a full GC of Node's heap) every `every` cycles. Flat lines clear the
// create/dispose path; a line rising by a steady amount per cycle is a leak in it.
//   bare     islet's addon (native/): Isolate + Context + a script allocating 1,000 objects
//   ivm      the same on the reference library (isolated-vm), for comparison
//   sandbox  the pool's cold start: Isolate + shim bootstrap (createSandbox) + a deployment
//            module loaded with its code cache, then sandbox and isolate disposed
// Usage: node --no-node-snapshot --expose-gc dist/bench/soak/isolate-churn.js [bare|ivm|sandbox] [cycles]
import fs from 'node:fs';
import { loadDeployment, type ModuleSource } from '../../server/tenants/loader';
import { defaultCreateSandbox } from '../../server/tenants/sandbox-api';
import type { DeploymentManifest } from '../../server/store/types';

function rssMB(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return Math.round(Number(m?.[1] ?? 0) / 1024);
}

type IsolateClass = new (options: {
  memoryLimit: number;
}) => {
  createContextSync(): { evalSync(code: string): unknown };
  dispose(): void;
};

async function main(): Promise<void> {
  const mode = process.argv[2] ?? 'sandbox';
  const cycles = Number(process.argv[3] ?? 3000);
  const every = 250;
  if (!['bare', 'ivm', 'sandbox'].includes(mode) || !Number.isInteger(cycles) || cycles < 1) {
    throw new Error(`isolate-churn: expected [bare|ivm|sandbox] [cycles], got ${process.argv.slice(2).join(' ')}`);
  }
  const Isolate = (mode === 'ivm' ? require('isolated-vm') : require('../../native')).Isolate as IsolateClass;
  const code = Buffer.from(
    "const NAME = 'churn'; export default { fetch() { return new Response('hello from ' + NAME); } };",
  );
  const manifest: DeploymentManifest = {
    id: 'churn',
    tenant: 'churn',
    hash: 'churn',
    createdAt: new Date().toISOString(),
    format: 'modules',
    entry: 'index.js',
    modules: [{ path: 'index.js', size: code.length, sha256: '' }],
    routes: [],
    warnings: [],
    size: code.length,
  };
  let cache: Buffer | null = null;
  const source: ModuleSource = {
    read: async () => code,
    readCache: async () => cache,
    writeCache: (_p, data) => void (cache = data),
  };
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
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  const points: string[] = [];
  for (let i = 0; i <= cycles; i++) {
    const isolate = new Isolate({ memoryLimit: 128 });
    if (mode === 'sandbox') {
      const sandbox = await createSandbox(isolate as never, {
        tenant: 'churn',
        deployment: 'churn',
        env: {},
        limits,
        egress: { allow: [] },
        log: () => {},
      });
      await loadDeployment(isolate as never, sandbox, manifest, source, { startupTimeoutMs: 5000 });
      sandbox.dispose();
    } else {
      isolate
        .createContextSync()
        .evalSync('const a = []; for (let i = 0; i < 1000; i++) a.push({ i, s: "x" + i }); a.length');
    }
    isolate.dispose();
    if (i % every === 0) {
      gc();
      points.push(`${i}: ${rssMB()} MB`);
    }
  }
  console.log(`isolate-churn ${mode}, RSS after every ${every} create/dispose cycles: ${points.join(', ')}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
