// Who is told when Node's thread goes into a tenant's isolate and when it comes back out: under
// the supervisor, the worker's crash journal (cluster/journal-writer.ts), so that a worker that
// dies while a tenant's code runs (V8's fatal out-of-memory, say) is attributed to that tenant.
// One watcher per process, set at start; entering and leaving cost one store each.

export interface EntryWatcher {
  entering(tenant: string): void;
  left(): void;
}

/** the process's watcher (null: nobody watches) */
export const entryWatch: { watcher: EntryWatcher | null } = { watcher: null };
