// How islet connects to PostgreSQL: the `postgres://` URL plus TLS settings and a pool size from
// config, turned into node-postgres (`pg`) client settings, and which errors mean "the database
// cannot be reached" (STORE_UNAVAILABLE, 503 at the admin API) rather than a bug or bad input.
//
// TLS follows libpq's sslmode words: disable; require (encrypted, server not verified);
// verify-ca (the server's certificate chains to the CA file); verify-full (and its name matches
// the host). The URL's own `sslmode=` is used when the setting says `auto`; other TLS
// parameters in the URL are refused, so that one place (the settings) decides.
import fs from 'node:fs';
import type { ClientConfig } from 'pg';
import { StoreError } from '../../errors';

export type SslMode = 'auto' | 'disable' | 'require' | 'verify-ca' | 'verify-full';

export interface PostgresConnection {
  /** postgres://user:password@host:port/database (or postgresql://) */
  url: string;
  sslMode?: SslMode;
  /** PEM file of the CA that signed the server's certificate (default: the system's CAs) */
  sslCaFile?: string;
  /** connections in the pool (the LISTEN connection of a feed is separate) */
  poolSize?: number;
  /** how long a connection attempt may take (ms) */
  connectTimeoutMs?: number;
}

const sslModes: readonly string[] = ['disable', 'require', 'verify-ca', 'verify-full'];
const tlsParams = ['sslcert', 'sslkey', 'sslrootcert', 'sslpassword', 'ssl', 'uselibpqcompat'];

/** the URL with its password replaced, for logs and messages */
export function redactUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

/** splits `sslmode` (and refuses other TLS parameters) off the URL's query */
function splitTlsParams(url: string): { url: string; sslmode: string | null } {
  const q = url.indexOf('?');
  if (q === -1) return { url, sslmode: null };
  const kept: string[] = [];
  let sslmode: string | null = null;
  for (const pair of url.slice(q + 1).split('&')) {
    const name = decodeURIComponent(pair.split('=')[0] ?? '');
    const value = decodeURIComponent(pair.slice(name.length + 1));
    if (name === 'sslmode') sslmode = value;
    else if (tlsParams.includes(name)) {
      throw new Error(
        `store.url: the '${name}' parameter is not read from the URL; use store.sslMode and store.sslCaFile ` +
          '(ISLET_STORE_SSLMODE, ISLET_STORE_SSL_CA_FILE)',
      );
    } else kept.push(pair);
  }
  return { url: kept.length ? `${url.slice(0, q)}?${kept.join('&')}` : url.slice(0, q), sslmode };
}

/** node-postgres client settings for one connection of the pool or the LISTEN client */
export function clientConfig(connection: PostgresConnection, applicationName: string): ClientConfig {
  const { url, sslmode } = splitTlsParams(connection.url);
  const setting = connection.sslMode ?? 'auto';
  const mode = setting === 'auto' ? (sslmode ?? 'disable') : setting;
  if (!sslModes.includes(mode)) throw new Error(`store.url: sslmode '${mode}' is not one of ${sslModes.join(', ')}`);
  let ssl: ClientConfig['ssl'] = false;
  if (mode !== 'disable') {
    const ca = connection.sslCaFile ? fs.readFileSync(connection.sslCaFile, 'utf8') : undefined;
    if (mode === 'require') ssl = { rejectUnauthorized: false };
    else if (mode === 'verify-ca') ssl = { rejectUnauthorized: true, ca, checkServerIdentity: () => undefined };
    else ssl = { rejectUnauthorized: true, ca };
  }
  return {
    connectionString: url,
    ssl,
    application_name: applicationName,
    connectionTimeoutMillis: connection.connectTimeoutMs ?? 5000,
    keepAlive: true,
    // a query on a connection whose server vanished without a word (no RST) fails instead of
    // hanging until TCP gives up; a large upload's blob insert fits well within it
    query_timeout: 30_000,
    // a node that hangs inside a transaction must not hold row locks (or the route lock) forever
    idle_in_transaction_session_timeout: 60_000,
  };
}

// Connection-level failures: the server is down, restarting, unreachable, out of connections.
const unavailableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down)
  '53300', // too_many_connections
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);
const unavailableMessages = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /connection error/i,
  /not queryable/i,
  /Connection ended/i,
  /Query read timeout/i,
];

export function isUnavailable(error: unknown): boolean {
  if (error instanceof StoreError) return error.code === 'ISLET_STORE_UNAVAILABLE';
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && unavailableCodes.has(code)) return true;
  if (error instanceof AggregateError) return error.errors.some(isUnavailable);
  const message = (error as Error)?.message ?? '';
  return unavailableMessages.some((pattern) => pattern.test(message));
}

/** the StoreError a caller sees for an unreachable database */
export function unavailable(error: unknown, url: string): StoreError {
  const reason = (error as Error)?.message || (error as { code?: string })?.code || String(error);
  return new StoreError(
    'ISLET_STORE_UNAVAILABLE',
    `the store (PostgreSQL at ${redactUrl(url)}) cannot be reached: ${reason}`,
    { cause: error },
  );
}
