// Notices changes made to the store by any process, within a second, without fs.watch (which
// misses events on some filesystems and across containers). Every write bumps a small
// `generation` file by atomic rename, so its inode changes; a cheap stat of it every 250 ms tells
// when to rescan. The rescan compares each tenant's pointer files (active, env, tenant record) by
// inode, size and mtime against the previous scan and reports what differs. A slow full rescan
// also runs every few seconds in case a writer died between its write and the generation bump.
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { listDir } from './atomic';
import type { StoreChange } from './types';

const pollMs = 250;
const fullScanMs = 3000;

type Stamp = string;
type TenantSnapshot = { tenant: Stamp; active: Stamp; env: Stamp };

async function stamp(file: string): Promise<Stamp> {
  try {
    const s = await fs.stat(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return '-';
  }
}

function stampSync(file: string): Stamp {
  try {
    const s = fsSync.statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return '-';
  }
}

export class StorePoller {
  #root: string;
  #listeners = new Set<(change: StoreChange) => void>();
  #timer: NodeJS.Timeout | null = null;
  #snapshot: Map<string, TenantSnapshot> | null = null;
  #generation: Stamp = '';
  #lastFull = 0;
  #scanning = false;

  constructor(root: string) {
    this.#root = root;
  }

  subscribe(listener: (change: StoreChange) => void): () => void {
    this.#listeners.add(listener);
    if (!this.#timer) this.#start();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.stop();
    };
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#snapshot = null;
  }

  /** a write in this process: look now rather than at the next tick */
  poke(): void {
    if (this.#timer) void this.#tick(true);
  }

  #start(): void {
    // The first snapshot is taken now, synchronously: a caller that read the store and then
    // called watch() hears about every change made after its call, none falls in between.
    this.#generation = stampSync(path.join(this.#root, 'generation'));
    this.#lastFull = Date.now();
    this.#snapshot = this.#scanSync();
    this.#timer = setInterval(() => void this.#tick(false), pollMs);
    this.#timer.unref();
  }

  #scanSync(): Map<string, TenantSnapshot> {
    const tenantsDir = path.join(this.#root, 'tenants');
    const out = new Map<string, TenantSnapshot>();
    let names: string[] = [];
    try {
      names = fsSync.readdirSync(tenantsDir);
    } catch {
      // no tenants folder yet: an empty store
    }
    for (const name of names) {
      const dir = path.join(tenantsDir, name);
      const tenant = stampSync(path.join(dir, 'tenant.json'));
      if (tenant === '-') continue;
      out.set(name, { tenant, active: stampSync(path.join(dir, 'active')), env: stampSync(path.join(dir, 'env.json')) });
    }
    return out;
  }

  async #tick(force: boolean): Promise<void> {
    if (this.#scanning) return;
    this.#scanning = true;
    try {
      const generation = await stamp(path.join(this.#root, 'generation'));
      const now = Date.now();
      if (!force && generation === this.#generation && now - this.#lastFull < fullScanMs) return;
      this.#generation = generation;
      this.#lastFull = now;
      const next = await this.#scan();
      const previous = this.#snapshot;
      this.#snapshot = next;
      if (previous) this.#diff(previous, next);
    } catch {
      // a scan racing a tenant deletion can fail half-way; the next tick scans again
    } finally {
      this.#scanning = false;
    }
  }

  async #scan(): Promise<Map<string, TenantSnapshot>> {
    const tenantsDir = path.join(this.#root, 'tenants');
    const out = new Map<string, TenantSnapshot>();
    for (const name of await listDir(tenantsDir)) {
      const dir = path.join(tenantsDir, name);
      const [tenant, active, env] = await Promise.all([
        stamp(path.join(dir, 'tenant.json')),
        stamp(path.join(dir, 'active')),
        stamp(path.join(dir, 'env.json')),
      ]);
      if (tenant === '-') continue; // being created or deleted
      out.set(name, { tenant, active, env });
    }
    return out;
  }

  #diff(before: Map<string, TenantSnapshot>, after: Map<string, TenantSnapshot>): void {
    const changes: StoreChange[] = [];
    for (const [tenant, now] of after) {
      const was = before.get(tenant);
      if (!was) {
        changes.push({ tenant, kind: 'tenant' });
        if (now.active !== '-') changes.push({ tenant, kind: 'activation' });
        continue;
      }
      if (was.tenant !== now.tenant) changes.push({ tenant, kind: 'limits' });
      if (was.active !== now.active) changes.push({ tenant, kind: 'activation' });
      if (was.env !== now.env) changes.push({ tenant, kind: 'env' });
    }
    for (const tenant of before.keys()) {
      if (!after.has(tenant)) changes.push({ tenant, kind: 'tenant' });
    }
    for (const change of changes) {
      for (const listener of this.#listeners) {
        try {
          listener(change);
        } catch {
          // a listener's failure must not stop the others from hearing about the change
        }
      }
    }
  }
}
