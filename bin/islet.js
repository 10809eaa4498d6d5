#!/usr/bin/env node
// The `islet` command. V8 isolates made by our addon must boot from V8's own snapshot, not
// Node's, so this entry point re-executes itself with --no-node-snapshot when it was started
// without it: users never have to remember the flag. Signals are forwarded to the child so
// SIGTERM (graceful shutdown) and SIGHUP (reload) reach the real server.
'use strict';
if (!process.execArgv.includes('--no-node-snapshot')) {
  const { spawn } = require('node:child_process');
  const child = spawn(
    process.execPath,
    ['--no-node-snapshot', ...process.execArgv, __filename, ...process.argv.slice(2)],
    {
      stdio: 'inherit',
    },
  );
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
} else {
  require('../dist/server/main.js')
    .main(process.argv.slice(2))
    .catch((err) => {
      console.error(err?.message ? err.message : String(err));
      process.exit(1);
    });
}
