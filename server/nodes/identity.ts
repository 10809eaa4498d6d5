// Who this node is: its id (config `nodes.id`, else one made on the first start and kept in the
// data folder, so a restart is the same node and two nodes on one machine differ), the address
// shown to operators, and islet's version from the package it runs from.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const idFile = 'node-id';
const idPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** the configured id, or the one kept in `dataDir` (made now when there is none) */
export function nodeId(configured: string, dataDir: string): string {
  if (configured) return configured;
  const file = path.join(dataDir, idFile);
  try {
    const kept = fs.readFileSync(file, 'utf8').trim();
    if (idPattern.test(kept)) return kept;
  } catch {
    // none yet
  }
  const host =
    os
      .hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 40) || 'node';
  const made = `${host}-${randomBytes(4).toString('hex')}`;
  fs.mkdirSync(dataDir, { recursive: true });
  // another process of the node may have made one meanwhile: the first written wins
  try {
    fs.writeFileSync(file, `${made}\n`, { flag: 'wx', mode: 0o644 });
    return made;
  } catch {
    const kept = fs.readFileSync(file, 'utf8').trim();
    if (idPattern.test(kept)) return kept;
    throw new Error(`${file}: not a node id (${JSON.stringify(kept.slice(0, 80))}); remove it or set ISLET_NODE_ID`);
  }
}

/** the configured address, else <hostname>:<port> */
export function nodeAddress(configured: string, port: number): string {
  return configured || `${os.hostname()}:${port}`;
}

let version: string | undefined;

/** islet's version (package.json of the installation) */
export function isletVersion(): string {
  if (version) return version;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'islet' && pkg.version) return (version = pkg.version);
    } catch {
      // not here
    }
    if (path.dirname(dir) === dir) return (version = 'unknown');
  }
}
