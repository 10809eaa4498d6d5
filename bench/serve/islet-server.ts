// islet as the bench runs it: `islet serve` with functions/hello published, in its own process.
// Usage: node --no-node-snapshot islet-server.js <port> <dataDir> [front-only]; prints "ready"
// on stderr. The log (one JSON line per request, as in production) is written synchronously to
// ISLET_BENCH_LOG (default /dev/null) through the same batching sink as production's stdout: the
// server pays for every line, the bench parent does not spend the shared CPU reading them.
//
// `front-only` is a diagnostic: the same server, pool, accounting and response path, but a
// sandbox that answers with hello's bytes without entering the isolate, so the report can say
// how much of the time per request is islet's front and how much is the isolate path.
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../server/config';
import { startServing } from '../../server/cli/serve';
import { Logger, stdoutSink } from '../../server/observe/server-log';
import type { CreateSandbox } from '../../server/tenants/sandbox-api';
import { HELLO } from './hello-bytes';

const frontOnly: CreateSandbox = (isolate) => ({
  context: isolate.createContextSync(),
  inFlight: 0,
  bindModule() {},
  bindScript() {},
  dispatch() {
    const response = Promise.resolve({
      status: 200,
      statusText: '',
      headers: ['content-type', 'text/plain; charset=utf-8'],
      body: HELLO,
    });
    return { response, done: response.then(() => ({ cpuNs: 0n, wallNs: 0n, subrequests: 0, logBytes: 0 })) };
  },
  dispose() {},
});

async function main(): Promise<void> {
  const [port, dataDir, mode] = process.argv.slice(2);
  const root = path.resolve(__dirname, '../../..');
  const config = loadConfig({
    env: {
      ...process.env,
      ISLET_PORT: port,
      ISLET_HOST: '127.0.0.1',
      ISLET_ADMIN_PORT: '0',
      ISLET_DATA_DIR: dataDir,
      ISLET_ADMIN_TOKEN: 'bench',
    },
  });
  // only the hello example: the others are not part of this benchmark
  const functionsDir = path.join(dataDir!, 'functions');
  fs.cpSync(path.join(root, 'functions', 'hello'), path.join(functionsDir, 'hello'), { recursive: true });
  const logFd = fs.openSync(process.env.ISLET_BENCH_LOG ?? '/dev/null', 'a');
  // the production sink (batched per turn of the event loop), writing to the bench's file
  const logger = new Logger(
    config.logLevel,
    stdoutSink((chunk) => fs.writeSync(logFd, chunk)),
  );
  const serving = await startServing({
    config,
    functionsDir,
    logger,
    createSandbox: mode === 'front-only' ? frontOnly : undefined,
  });
  process.stderr.write('ready\n');
  process.once('SIGTERM', () => void serving.close().then(() => process.exit(0)));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
