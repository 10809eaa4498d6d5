// Deploys tenant code the way islet does (the deploy build, then the tenant loader with its
// built-in modules) into a test sandbox, so a test can send it requests with fetchText.
import { build } from '../../server/deploy/build';
import { loadDeployment } from '../../server/tenants/loader';
import type { Isolate } from '../../server/host/isolate-api';
import type { SandboxOptions } from '../../server/host/types';
import { makeSandbox, evaluatorModule, runIn, type TestSandbox } from './helpers';

export interface DeployOptions extends Partial<SandboxOptions> {
  entry?: string;
  bundle?: boolean;
  compatibility?: Record<string, unknown>;
  memoryLimit?: number;
  /** a node_modules folder on the host bare imports may use (the repository's own: hono...) */
  hostNodeModules?: string;
}

/** builds `files` (path -> source; the first is the entry unless `entry` says) and loads them */
export async function deploySandbox(files: Record<string, string>, options: DeployOptions = {}): Promise<TestSandbox> {
  const { entry, bundle, compatibility, hostNodeModules, ...sandboxOptions } = options;
  const upload = new Map(Object.entries(files).map(([p, code]) => [p, Buffer.from(code)]));
  const built = await build('test', upload, {
    entry: entry ?? Object.keys(files)[0],
    bundle,
    compatibility,
    hostNodeModules,
  });
  const t = makeSandbox(sandboxOptions);
  try {
    await loadDeployment(
      t.isolate as unknown as Isolate,
      t.sandbox,
      built.manifest,
      {
        read: async (p) => built.files.get(p)!,
        readCache: async () => null,
        writeCache: () => {},
      },
      { startupTimeoutMs: 5000 },
    );
  } catch (error) {
    t.close();
    throw error;
  }
  return t;
}

/**
 * An evaluator (helpers.ts makeEvaluator) deployed through the build and the loader, whose code
 * names `uses`: the globals islet gives only to deployments that name them (EventSource...).
 */
export async function deployEvaluator(
  uses: string[],
  options: DeployOptions = {},
): Promise<TestSandbox & { run(code: string): Promise<any> }> {
  const t = await deploySandbox(
    { 'index.js': `export const uses = ${JSON.stringify(uses)};\n${evaluatorModule}` },
    options,
  );
  return Object.assign(t, { run: (code: string) => runIn(t, code) });
}
