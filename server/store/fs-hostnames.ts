// The directory store's hostname records: one file per tenant (tenants/<t>/hostnames.json,
// hostname -> record), rewritten whole under the store's write lock (the caller holds it).
import { readJson } from './atomic';
import { StoreError } from '../errors';
import { normalHostnameRecord } from './hostnames';
import type { HostnameRecord } from './types';

export class FsHostnames {
  constructor(
    readonly file: (tenant: string) => string,
    readonly write: (file: string, data: string) => Promise<void>,
  ) {}

  async list(tenant: string): Promise<HostnameRecord[]> {
    const stored = (await readJson<Record<string, HostnameRecord>>(this.file(tenant))) ?? {};
    return Object.values(stored).sort((a, b) => (a.hostname < b.hostname ? -1 : 1));
  }

  async put(record: HostnameRecord): Promise<void> {
    const file = this.file(record.tenant);
    const stored = (await readJson<Record<string, HostnameRecord>>(file)) ?? {};
    stored[record.hostname] = normalHostnameRecord(record);
    await this.write(file, JSON.stringify(stored));
  }

  async delete(tenant: string, hostname: string): Promise<void> {
    const file = this.file(tenant);
    const stored = (await readJson<Record<string, HostnameRecord>>(file)) ?? {};
    if (!stored[hostname])
      throw new StoreError('ISLET_STORE_NOT_FOUND', `tenant '${tenant}' has no hostname '${hostname}'`);
    delete stored[hostname];
    await this.write(file, JSON.stringify(stored));
  }
}
