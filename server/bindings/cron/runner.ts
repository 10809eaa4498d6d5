// One run of a tenant's `scheduled` handler: the tenant's isolate from the pool (warm, or
// started for it), the run dispatched as a request of its own with the tenant's cron limits
// (limits.cronCpuMs, limits.cronWallMs) instead of its request limits, and, once it is over
// (handler settled, waitUntil settled, or a limit cut it), one log line, the tenant's log records
// (exception, limit cut) and islet_cron_runs_total{tenant,status}. Used by the scheduler for
// each slot it claims and by the admin API's manual trigger.
import type { Dispatch, RequestAccount, SandboxRequest } from '../../host/types';
import type { ServerTrace, Tracing } from '../../observe/tracing/types';
import { nextRequestId } from '../../front/request';
import { failureStatus } from '../../front/status';
import type { TenantDirectory } from '../../tenants/directory';
import { classifyFailure, configuredLimit, type Failure } from '../../tenants/limits';
import type { TenantLogSink } from '../../tenants/log-sink';
import type { TenantObserver } from '../../tenants/observer';
import type { IsolatePool } from '../../tenants/pool';
import type { TenantIsolate } from '../../tenants/tenant-isolate';
import type { BindingObserver, CronStatus } from '../observer';

export interface CronRunResult {
  tenant: string;
  deployment: string;
  cron: string;
  scheduledTime: number;
  requestId: string;
  /** `ok`, `error` (the handler threw, or the worker failed to start), or the limit that cut the run */
  outcome: CronStatus;
  /** the handler called controller.noRetry() */
  noRetry: boolean;
  /** the run's span while it runs (internal; removed before the result is returned) */
  trace?: ServerTrace;
  cpuMs: number;
  wallMs: number;
  /** what went wrong, when the outcome is not `ok` */
  error?: string;
}

export interface CronRunnerDeps {
  directory: TenantDirectory;
  pool: IsolatePool;
  logs: TenantLogSink;
  observer: TenantObserver;
  bindings: BindingObserver;
  /** OpenTelemetry traces: one span per run (absent or null: off) */
  tracing?: Tracing | null;
}

/** the tenant has nothing to run (no such tenant, no active deployment) */
export class CronTargetError extends Error {
  override name = 'CronTargetError';
}

export class CronRunner {
  readonly #deps: CronRunnerDeps;

  constructor(deps: CronRunnerDeps) {
    this.#deps = deps;
  }

  /** runs `cron`'s slot at `scheduledTime` (ms) in `tenant`; resolves once the run is completely over */
  async run(tenant: string, cron: string, scheduledTime: number): Promise<CronRunResult> {
    const state = await this.#deps.directory.get(tenant);
    if (!state) throw new CronTargetError(`tenant '${tenant}' has no active deployment to run`);
    const requestId = nextRequestId();
    const started = process.hrtime.bigint();
    const result: CronRunResult = {
      tenant,
      deployment: state.manifest.id,
      cron,
      scheduledTime,
      requestId,
      outcome: 'ok',
      noRetry: false,
      cpuMs: 0,
      wallMs: 0,
    };
    // a run is the root of its own trace: `scheduled <cron>`, its fetches and binding calls under it
    const trace = this.#deps.tracing?.startRequest({
      name: `scheduled ${tenant}`,
      startedNs: started,
      kind: 'internal',
      attributes: {
        'islet.tenant': tenant,
        'islet.deployment': state.manifest.id,
        'islet.request_id': requestId,
        'islet.cron': cron,
        'islet.scheduled_time': new Date(scheduledTime).toISOString(),
      },
    });
    result.trace = trace;
    let entry: TenantIsolate;
    try {
      entry = this.#deps.pool.acquire(state);
    } catch (error) {
      return this.#report(result, null, classifyFailure(error), null, started);
    }
    const cold = !entry.ready;
    try {
      if (cold) await entry.started;
    } catch (error) {
      entry.release();
      return this.#report(result, entry, classifyFailure(error), null, started, cold);
    }
    const { limits } = state;
    const request: SandboxRequest = {
      id: requestId,
      method: 'GET',
      url: `http://${tenant}.cron.invalid/__scheduled?cron=${encodeURIComponent(cron)}`,
      headers: [],
      body: null,
      scheduled: { cron, scheduledTime },
      flags: {},
      trace,
    };
    let dispatch: Dispatch;
    try {
      dispatch = entry.dispatch(request, {
        ...limits,
        cpuMs: limits.cronCpuMs ?? limits.cpuMs,
        wallMs: limits.cronWallMs ?? limits.wallMs,
      });
    } catch (error) {
      entry.release();
      return this.#report(result, entry, classifyFailure(error), null, started, cold);
    }
    const answered = await dispatch.response.then(
      () => null,
      (error: unknown) => classifyFailure(error),
    );
    let account: RequestAccount | null = null;
    let ended: Failure | null = null;
    try {
      account = await dispatch.done;
    } catch (error) {
      ended = classifyFailure(error);
      account = (error as { account?: RequestAccount }).account ?? null;
    }
    const failure = answered ?? ended ?? (account?.limit ? classifyFailure(account.limit) : null);
    entry.release();
    if (failure?.kind === 'limit' && failure.limit === 'memory') this.#deps.pool.retire(entry, 'killed');
    result.noRetry = request.flags?.noRetry === true;
    return this.#report(result, entry, failure, account, started, cold);
  }

  #report(
    result: CronRunResult,
    entry: TenantIsolate | null,
    failure: Failure | null,
    account: RequestAccount | null,
    started: bigint,
    cold = false,
  ): CronRunResult {
    const { logs, observer, bindings } = this.#deps;
    const { tenant, deployment, requestId } = result;
    result.cpuMs = account ? Number(account.cpuNs) / 1e6 : 0;
    result.wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    if (failure) {
      result.outcome =
        failure.kind === 'limit' ? failure.limit : failure.kind === 'unavailable' ? 'unavailable' : 'error';
      if (failure.kind === 'limit') {
        result.error = `${failure.limit} limit exceeded`;
        observer.limitExceeded(tenant, failure.limit);
        const measured = failure.measured ?? (entry ? configuredLimit(entry.limits, failure.limit) : 0);
        logs.limitExceeded({
          tenant,
          deployment,
          requestId,
          limit: failure.limit,
          measured,
          stack: failure.tenantStack,
        });
      } else if (failure.kind === 'tenant' || failure.kind === 'startup') {
        result.error = failure.message;
        logs.tenantError({ tenant, deployment, requestId, message: failure.message, stack: failure.tenantStack });
      } else if (failure.kind === 'backoff') {
        result.error = `the tenant is backed off after repeated isolate deaths (retry in ${failure.retryAfterS} s)`;
      } else result.error = failure.message;
    }
    bindings.cronRun(tenant, result.outcome);
    result.trace?.finish(
      {
        'islet.cpu_ms': result.cpuMs,
        'islet.wall_ms': result.wallMs,
        'islet.cold_start': cold,
        'islet.outcome': result.outcome,
      },
      failure ? (result.error ?? result.outcome) : undefined,
    );
    delete result.trace;
    logs.request({
      tenant,
      deployment,
      requestId,
      method: 'SCHEDULED',
      path: result.cron,
      status: failure ? failureStatus(failure) : 204,
      cpuMs: Math.round(result.cpuMs * 1000) / 1000,
      wallMs: Math.round(result.wallMs * 1000) / 1000,
      cold,
    });
    return result;
  }
}
