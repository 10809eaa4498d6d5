// islet as the bench runs it: `islet serve` with functions/hello published, in its own process.
// Usage: node --no-node-snapshot islet-server.js <port> <dataDir>; prints "ready" on stderr.
// Request log lines go to stdout as in production (the parent discards them).
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../server/config';
import { startServing } from '../../server/cli/serve';

async function main(): Promise<void> {
  const [port, dataDir] = process.argv.slice(2);
  const root = path.resolve(__dirname, '../../..');
  const config = loadConfig({ env: { ...process.env, ISLET_PORT: port, ISLET_HOST: '127.0.0.1', ISLET_ADMIN_PORT: '0', ISLET_DATA_DIR: dataDir, ISLET_ADMIN_TOKEN: 'bench' } });
  // only the hello example: the others are not part of this benchmark
  const functionsDir = path.join(dataDir!, 'functions');
  fs.cpSync(path.join(root, 'functions', 'hello'), path.join(functionsDir, 'hello'), { recursive: true });
  const serving = await startServing({ config, functionsDir });
  process.stderr.write('ready\n');
  process.once('SIGTERM', () => void serving.close().then(() => process.exit(0)));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
