// Which admin API a CLI command talks to, and with which token. The URL: --admin-url, else
// ISLET_ADMIN_URL, else http://127.0.0.1:<ISLET_ADMIN_PORT> (the port a local `islet serve` or
// `islet dev` was given), else http://127.0.0.1:8081. The token: --token, else ISLET_ADMIN_TOKEN,
// else the operator token file a local server generated (<ISLET_DATA_DIR or .islet>/admin-token).
import fs from 'node:fs';
import path from 'node:path';
import { CliError } from '../errors';

export interface AdminTarget {
  url: string;
  token: string;
}

export interface AdminFlags {
  'admin-url'?: string | undefined;
  token?: string | undefined;
}

/** The admin URL alone (commands that need no token, such as the help, never ask for one). */
export function adminUrl(values: AdminFlags, env: NodeJS.ProcessEnv = process.env): string {
  let url = values['admin-url'] || env.ISLET_ADMIN_URL;
  let from = values['admin-url'] ? '--admin-url' : 'ISLET_ADMIN_URL';
  if (!url && env.ISLET_ADMIN_PORT) {
    const port = Number(env.ISLET_ADMIN_PORT);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new CliError(`ISLET_ADMIN_PORT: ${JSON.stringify(env.ISLET_ADMIN_PORT)} is not a port number (1-65535)`);
    url = `http://127.0.0.1:${port}`;
    from = 'ISLET_ADMIN_PORT';
  }
  url = (url || 'http://127.0.0.1:8081').replace(/\/+$/, '');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(`${from}: ${JSON.stringify(url)} is not a URL (expected e.g. http://127.0.0.1:8081)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new CliError(`${from}: ${JSON.stringify(url)} must be an http:// or https:// URL`);
  return url;
}

export function adminTarget(values: AdminFlags, env: NodeJS.ProcessEnv = process.env): AdminTarget {
  const url = adminUrl(values, env);
  let token = values.token || env.ISLET_ADMIN_TOKEN;
  if (!token) {
    const file = path.resolve(env.ISLET_DATA_DIR || '.islet', 'admin-token');
    try {
      token = fs.readFileSync(file, 'utf8').trim();
    } catch {
      throw new CliError(`no admin token: pass --token, set ISLET_ADMIN_TOKEN, or run where ${file} exists`);
    }
  }
  return { url, token };
}
