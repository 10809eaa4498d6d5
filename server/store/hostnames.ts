// Checks shared by both stores' hostname records: a hostname is a lower-case DNS name, optionally
// `*.` in front (every name under it), and a record's fields have the shapes the API relies on.
import { StoreError } from '../errors';
import type { HostnameRecord } from './types';

const label = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** `hostname` when it is a lower-case DNS name (or `*.` + one), else throws ISLET_STORE_INVALID_NAME */
export function checkHostname(hostname: string): string {
  const bare = hostname.startsWith('*.') ? hostname.slice(2) : hostname;
  const labels = bare.split('.');
  if (hostname.length > 253 || labels.length < 1 || !labels.every((l) => label.test(l))) {
    throw new StoreError('ISLET_STORE_INVALID_NAME', `'${hostname.slice(0, 100)}' is not a lower-case host name`);
  }
  return hostname;
}

export function checkHostnameRecord(record: HostnameRecord): void {
  checkHostname(record.hostname);
  if (!/^[A-Za-z0-9_-]{16,128}$/.test(record.token)) {
    throw new StoreError('ISLET_STORE_INVALID_NAME', 'a hostname token is 16 to 128 URL-safe characters');
  }
  if (record.verifiedBy !== null && !['operator', 'dns', 'http'].includes(record.verifiedBy)) {
    throw new StoreError('ISLET_STORE_INVALID_NAME', `unknown hostname proof '${String(record.verifiedBy)}'`);
  }
}

/** the stored shape of a record, fields in one order, so both stores read back equal records */
export function normalHostnameRecord(record: HostnameRecord): HostnameRecord {
  const out: HostnameRecord = {
    tenant: record.tenant,
    hostname: record.hostname,
    token: record.token,
    verifiedBy: record.verifiedBy,
    createdAt: record.createdAt,
  };
  if (record.verifiedAt) out.verifiedAt = record.verifiedAt;
  return out;
}
