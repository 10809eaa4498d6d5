// The WPT tree's files over HTTP on 127.0.0.1, for the resources tests fetch (JSON test data,
// IDL files, text fixtures). It is the static part of the WPT server only: a file, plus the
// extra headers of its `<file>.headers` sibling as wptserve sends them; no Python handlers and
// no substitutions (manifest.ts marks tests that need those not applicable on both sides).
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const types: Record<string, string> = {
  '.json': 'application/json',
  '.js': 'text/javascript',
  '.txt': 'text/plain',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.xml': 'application/xml',
  '.css': 'text/css',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.gif': 'image/gif',
  '.svg': 'image/svg+xml',
  '.idl': 'text/plain',
  '.wasm': 'application/wasm',
};

/** `Name: value` lines of a .headers file */
function extraHeaders(file: string): [string, string][] {
  const out: [string, string][] = [];
  const sibling = `${file}.headers`;
  if (!fs.existsSync(sibling)) return out;
  for (const line of fs.readFileSync(sibling, 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  return out;
}

export interface StaticServer {
  baseUrl: string;
  close(): Promise<void>;
}

export async function startStaticServer(root: string): Promise<StaticServer> {
  const top = path.resolve(root);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://wpt.local');
    const file = path.resolve(top, `.${decodeURIComponent(url.pathname)}`);
    const inside = file.startsWith(`${top}${path.sep}`);
    if (!inside || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const headers: [string, string][] = [['content-type', types[path.extname(file)] ?? 'application/octet-stream']];
    for (const [name, value] of extraHeaders(file)) {
      const same = headers.findIndex(([n]) => n.toLowerCase() === name.toLowerCase());
      if (same >= 0) headers.splice(same, 1);
      headers.push([name, value]);
    }
    const body = fs.readFileSync(file);
    res.writeHead(200, [...headers.flat(), 'content-length', String(body.length)]);
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
