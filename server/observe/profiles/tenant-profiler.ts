// CPU profiles of a tenant (POST /v1/tenants/{t}/profile): the addon samples the tenant's
// isolates for N seconds, frames are source-mapped to the uploaded files, and the result is one
// DevTools `.cpuprofile`. One profile per tenant at a time (a second one is refused: the route
// answers 409), and the length is capped by config (profiles.maxSeconds).
//
// Three shapes of the same thing: LocalProfiles in a process that serves alone; under the
// supervisor, each worker answers 'profile.collect' with its own isolates' profiles and the
// supervisor (ClusterProfiles, which holds the per-tenant lock) merges them; a worker that
// received the admin request asks the supervisor ('profile.run') rather than profiling itself,
// since the tenant's isolate may live in another worker.
import { setTimeout as sleep } from 'node:timers/promises';
import { primaryChannel } from '../../cluster/primary-channel';
import { workerChannel } from '../../cluster/worker-channel';
import type { CpuProfile } from '../../host/isolate-api';
import type { IsolatePool } from '../../tenants/pool';
import type { SourceMapper } from '../tenant-logs/source-maps';
import { emptyProfile, mergeProfiles } from './merge';
import { sourceMapProfile } from './source-mapped';

export interface ProfileRequest {
  tenant: string;
  seconds: number;
  /** µs between samples */
  samplingIntervalUs: number;
}

/** The profile, or `busy` when one of the tenant already runs. `isolates`: how many were sampled. */
export type ProfileAnswer = { busy: true } | { busy: false; profile: CpuProfile; isolates: number };

export interface ProfileSource {
  profile(request: ProfileRequest): Promise<ProfileAnswer>;
}

/** how much longer than the profile itself the cluster waits for a worker's answer */
const ANSWER_MARGIN_MS = 15_000;

let titles = 0;

/** This process's isolates of the tenant, profiled and source-mapped (no lock: callers hold it). */
export async function collectProfiles(
  pool: Pick<IsolatePool, 'beginProfile' | 'endProfile'>,
  maps: SourceMapper,
  request: ProfileRequest,
): Promise<CpuProfile[]> {
  const title = `islet-profile-${process.pid}-${++titles}`;
  pool.beginProfile(request.tenant, title, { samplingInterval: request.samplingIntervalUs });
  await sleep(request.seconds * 1000);
  const profiles = await pool.endProfile(request.tenant, title);
  return Promise.all(profiles.map((p) => sourceMapProfile(p.profile, request.tenant, p.deployment, maps)));
}

/** Holds "one profile per tenant at a time" around `run`. */
class TenantLock {
  readonly #running = new Set<string>();

  async run(tenant: string, work: () => Promise<CpuProfile[]>): Promise<ProfileAnswer> {
    if (this.#running.has(tenant)) return { busy: true };
    this.#running.add(tenant);
    try {
      const profiles = await work();
      const profile = profiles.length ? mergeProfiles(profiles) : emptyProfile(0, 0);
      return { busy: false, profile, isolates: profiles.length };
    } finally {
      this.#running.delete(tenant);
    }
  }
}

/** A process serving alone: profiles its own isolates. */
export class LocalProfiles implements ProfileSource {
  readonly #lock = new TenantLock();
  constructor(
    private readonly pool: Pick<IsolatePool, 'beginProfile' | 'endProfile'>,
    private readonly maps: SourceMapper,
  ) {}

  profile(request: ProfileRequest): Promise<ProfileAnswer> {
    return this.#lock.run(request.tenant, () => collectProfiles(this.pool, this.maps, request));
  }
}

/** A worker: answers the supervisor's collections, and sends its admin requests to the supervisor. */
export class WorkerProfiles implements ProfileSource {
  readonly #stop: () => void;
  constructor(pool: Pick<IsolatePool, 'beginProfile' | 'endProfile'>, maps: SourceMapper) {
    this.#stop = workerChannel().handle('profile.collect', (request) => collectProfiles(pool, maps, request));
  }

  profile(request: ProfileRequest): Promise<ProfileAnswer> {
    return workerChannel().ask('profile.run', request, { timeoutMs: request.seconds * 1000 + 2 * ANSWER_MARGIN_MS });
  }

  close(): void {
    this.#stop();
  }
}

/** The supervisor: holds the per-tenant lock and merges what every worker sampled of the tenant. */
export class ClusterProfiles {
  readonly #lock = new TenantLock();
  readonly #stop: () => void;
  constructor() {
    const channel = primaryChannel();
    this.#stop = channel.handle('profile.run', (request) =>
      this.#lock.run(request.tenant, async () => {
        // every worker is asked: a tenant reached by several host names can have an isolate in each
        const timeoutMs = request.seconds * 1000 + ANSWER_MARGIN_MS;
        const { answers } = await channel.askAll('profile.collect', request, { timeoutMs });
        return answers.flatMap((a) => a.value);
      }),
    );
  }

  close(): void {
    this.#stop();
  }
}
