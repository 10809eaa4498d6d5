// The bare node:http baseline (../node-server.ts) as a system under test.
import path from 'node:path';
import { waitForHttp } from '../../lib/http';
import { freePort, startProcess } from '../../lib/proc';
import type { RunningSystem, SystemContext, SystemUnderTest } from '../system';

export const nodeHttp: SystemUnderTest = {
  id: 'node',
  label: 'node:http',
  describe: 'bare node:http server, one process, the same workloads written directly against req/res',
  async start(ctx: SystemContext): Promise<RunningSystem> {
    const port = await freePort();
    const proc = startProcess(
      'node:http',
      process.execPath,
      [path.join(__dirname, '..', 'node-server.js'), String(port)],
      {
        cwd: ctx.repoRoot,
      },
    );
    const baseUrl = `http://127.0.0.1:${port}`;
    try {
      await waitForHttp(`${baseUrl}/hello`, { isAlive: proc.alive });
    } catch (err) {
      await proc.stop();
      throw new Error(`node:http baseline did not start: ${(err as Error).message}\n${proc.output()}`);
    }
    return { baseUrl, headers: {}, process: proc, stop: () => proc.stop() };
  },
};
