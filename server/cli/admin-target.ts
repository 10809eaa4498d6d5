// Which admin API a CLI command talks to, and with which token: flags first, then ISLET_ADMIN_URL
// / ISLET_ADMIN_TOKEN, then the operator token file the server writes into its data dir.
import fs from 'node:fs';
import path from 'node:path';
import { CliError } from '../errors';

export interface AdminTarget {
  url: string;
  token: string;
}

export function adminTarget(values: { 'admin-url'?: string; token?: string }): AdminTarget {
  const url = (values['admin-url'] ?? process.env.ISLET_ADMIN_URL ?? 'http://127.0.0.1:8081').replace(/\/+$/, '');
  try {
    new URL(url);
  } catch {
    throw new CliError(`--admin-url: ${JSON.stringify(url)} is not a URL (expected e.g. http://127.0.0.1:8081)`);
  }
  let token = values.token ?? process.env.ISLET_ADMIN_TOKEN;
  if (!token) {
    const file = path.resolve(process.env.ISLET_DATA_DIR ?? '.islet', 'admin-token');
    try {
      token = fs.readFileSync(file, 'utf8').trim();
    } catch {
      throw new CliError(`no admin token: pass --token, set ISLET_ADMIN_TOKEN, or run where ${file} exists`);
    }
  }
  return { url, token };
}
