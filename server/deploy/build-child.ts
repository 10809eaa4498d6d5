// The process a build runs in (deploy/build-pool.ts starts it): it receives one upload at a time
// over IPC, builds it with build.ts (esbuild, the upload resolver) and sends the result or the
// refusal back. Builds run here rather than in the serving process so that what a hostile
// upload does to the build (esbuild's Go service overflowing its stack, a build that runs for
// minutes, memory) stays in a process the pool can kill, under a memory limit the pool set
// (RLIMIT_DATA, inherited by esbuild's service), at a lower CPU priority than serving.
import os from 'node:os';
import { build, type BuildOptions } from './build';
import { DeployError } from '../errors';

export interface BuildRequest {
  id: number;
  tenant: string;
  files: Map<string, Buffer>;
  options: BuildOptions;
}

export type BuildReply =
  | {
      id: number;
      ok: true;
      manifest: import('../store/types').DeploymentManifest;
      files: Map<string, Buffer>;
      inputs: Map<string, Buffer>;
    }
  | { id: number; ok: false; code: string; message: string; deploy: boolean };

function serve(): void {
  try {
    // serving goes first: a build only gets the CPU serving leaves (esbuild inherits the priority)
    os.setPriority(10);
  } catch {
    // not permitted here: builds run at the server's priority
  }
  // the serving process is gone (or dropped this child): nothing left to build for
  process.on('disconnect', () => process.exit(0));
  process.on('message', (request: BuildRequest) => {
    build(request.tenant, request.files, request.options).then(
      (built) => send({ id: request.id, ok: true, manifest: built.manifest, files: built.files, inputs: built.inputs }),
      (error: unknown) => {
        const deploy = error instanceof DeployError;
        send({
          id: request.id,
          ok: false,
          code: deploy ? error.code : 'ISLET_BUILD_INTERNAL',
          message: deploy ? error.message : String((error as Error)?.stack ?? error),
          deploy,
        });
      },
    );
  });
}

function send(reply: BuildReply): void {
  process.send?.(reply);
}

if (require.main === module) serve();
