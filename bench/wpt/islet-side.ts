// islet's side of a WPT run: `islet serve` through its public interfaces (bench/peers' startIslet),
// the harness worker deployed through the admin API once per job, as its own tenant (so each test
// file gets a fresh isolate), the job sent as tenant traffic. The limits are raised for the run:
// WPT files are test suites, not requests (encoding's and WebCrypto's files spend seconds of CPU),
// and the test's resources come from the static server on 127.0.0.1, which the egress guard must
// allow. Everything else is islet's default.
import { startIslet, type IsletServer } from '../peers/systems/islet';
import type { SystemContext } from '../peers/system';
import {
  eachLimited,
  failed,
  harnessWorkerSource,
  type JobResult,
  postJob,
  type Progress,
  type SideResults,
} from './jobs';
import type { Job } from './manifest';

export const isletRunEnv = {
  ISLET_CPU_LIMIT_MS: '300000',
  ISLET_WALL_LIMIT_MS: '600000',
  ISLET_MEMORY_LIMIT_MB: '1024',
  ISLET_SUBREQUEST_LIMIT: '10000',
  ISLET_LOG_LIMIT_BYTES: '0',
  ISLET_STARTUP_TIMEOUT_MS: '10000',
  ISLET_POOL_MAX_MEMORY_MB: '4096',
  ISLET_EGRESS_ALLOW: '127.0.0.1',
};

export async function runIslet(
  ctx: SystemContext,
  jobs: Job[],
  opts: { concurrency: number; progress: Progress },
): Promise<SideResults> {
  const source = harnessWorkerSource(ctx.repoRoot);
  const results: SideResults = new Map();
  let server: IsletServer | null = null;
  let starting: Promise<IsletServer> | null = null;
  const ensure = async (): Promise<IsletServer> => {
    if (server?.proc.alive()) return server;
    if (!starting) {
      starting = startIslet(ctx, 'islet-wpt', { workers: 0, env: isletRunEnv }).then((s) => {
        server = s;
        starting = null;
        return s;
      });
    }
    return starting;
  };
  try {
    await eachLimited(jobs, opts.concurrency, async (job, index) => {
      const islet = await ensure();
      const tenant = `wpt${index}`;
      let result: JobResult;
      try {
        await islet.deploy(tenant, source);
        result = await postJob(`http://127.0.0.1:${islet.port}/`, job, islet.tenantHeaders(tenant));
      } catch (err) {
        result = failed(`deploy: ${(err as Error).message}`);
      }
      if (result.error && !islet.proc.alive())
        result = failed(`islet serve exited: ${islet.proc.output().slice(-500)}`);
      results.set(job.id, result);
      opts.progress('islet', job, result);
    });
  } finally {
    await (server as IsletServer | null)?.proc.stop();
  }
  return results;
}
