// What one request cost, reported once it is completely over: to the observer (metrics) and as
// one JSON request log line; a limit cut also gets its own line with the request id, the limit,
// the measured value and the tenant's stack when the addon captured it. Exception messages and
// stacks are tenant-controlled text: they are cut to their bounds (tenant-text.ts) before they
// reach the log sink, which maps stacks through source maps and writes them.
import { NO_TENANT } from './observer';
import type { TenantLogSink } from './log-sink';
import type { RequestAccount } from '../host/types';
import type { TenantObserver } from './observer';
import type { TenantIsolate } from './tenant-isolate';
import type { Failure } from './limits';
import { configuredLimit } from './limits';
import { boundMessage, boundStack, defaultTextBounds, type TextBounds } from './tenant-text';
import type { ServerTrace } from '../observe/tracing/types';

export interface FinishedRequest {
  entry: TenantIsolate;
  requestId: string;
  method: string;
  path: string;
  status: number;
  startedNs: bigint;
  cold: boolean;
  account: RequestAccount | null;
  /** a failure that decided the status (limit, tenant exception), if any */
  failure?: Failure;
  /** its server span when tracing is on: ended here with what the request cost */
  trace?: ServerTrace;
}

/** A request turned away before reaching an isolate (concurrency cap, back-off), with the status it got. */
export interface RejectedRequest {
  tenant: string;
  deployment: string;
  requestId: string;
  method: string;
  path: string;
  status: number;
  failure: Failure & { kind: 'limit' | 'backoff' };
  trace?: ServerTrace;
}

export class Accounting {
  readonly #observer: TenantObserver;
  readonly #logs: TenantLogSink;
  readonly #logRequests: boolean;
  readonly #bounds: TextBounds;

  constructor(deps: { observer: TenantObserver; logs: TenantLogSink; logRequests: boolean; textBounds?: TextBounds }) {
    this.#observer = deps.observer;
    this.#logs = deps.logs;
    this.#logRequests = deps.logRequests;
    this.#bounds = deps.textBounds ?? defaultTextBounds;
  }

  #stack(stack: string | undefined): string | undefined {
    return stack === undefined ? undefined : boundStack(stack, this.#bounds);
  }

  /** a request that reached no function (bad Host, no route, no deployment): counted under NO_TENANT */
  unmatched(status: number): void {
    this.#observer.requestFinished({ tenant: NO_TENANT, deployment: '', status, durationS: 0, cpuS: 0, cold: false });
  }

  rejected(r: RejectedRequest): void {
    const { tenant, deployment, requestId, status, failure } = r;
    this.#observer.requestFinished({ tenant, deployment, status, durationS: 0, cpuS: 0, cold: false });
    if (failure.kind === 'limit') {
      this.#observer.limitExceeded(tenant, failure.limit);
      this.#logs.limitExceeded({
        tenant,
        deployment,
        requestId,
        limit: failure.limit,
        measured: failure.measured ?? 0,
      });
    }
    if (failure.kind === 'limit')
      r.trace?.finish({ 'http.response.status_code': status, 'islet.limit': failure.limit }, `limit: ${failure.limit}`);
    else r.trace?.finish({ 'http.response.status_code': status }, 'backoff');
    if (this.#logRequests) {
      this.#logs.request({
        tenant,
        deployment,
        requestId,
        method: r.method,
        path: r.path,
        status,
        cpuMs: 0,
        wallMs: 0,
        cold: false,
      });
    }
  }

  /** The function failed to load: its tenant can read why in its logs. */
  startFailed(entry: TenantIsolate, requestId: string, message: string, stack?: string): void {
    this.#logs.tenantError({
      tenant: entry.tenant,
      deployment: entry.deployment,
      requestId,
      message: boundMessage(message, this.#bounds.maxBytes),
      stack: this.#stack(stack),
    });
  }

  finish(r: FinishedRequest): void {
    const { entry, account } = r;
    const durationNs = process.hrtime.bigint() - r.startedNs;
    const cpuMs = account ? Number(account.cpuNs) / 1e6 : 0;
    const wallMs = account ? Number(account.wallNs) / 1e6 : Number(durationNs) / 1e6;
    this.#observer.requestFinished({
      tenant: entry.tenant,
      deployment: entry.deployment,
      status: r.status,
      durationS: Number(durationNs) / 1e9,
      cpuS: cpuMs / 1000,
      cold: r.cold,
    });
    // A limit may cut a request after its response started (streamed body, waitUntil): the
    // account carries it then; otherwise the failure the front already answered with.
    const cut = account?.limit
      ? { limit: account.limit.limit, measured: account.limit.measured, tenantStack: account.limit.tenantStack }
      : r.failure?.kind === 'limit'
        ? r.failure
        : null;
    if (cut) {
      this.#observer.limitExceeded(entry.tenant, cut.limit);
      this.#logs.limitExceeded({
        tenant: entry.tenant,
        deployment: entry.deployment,
        requestId: r.requestId,
        limit: cut.limit,
        measured: cut.measured ?? configuredLimit(entry.limits, cut.limit) ?? 0,
        stack: this.#stack(cut.tenantStack),
      });
    } else if (r.failure?.kind === 'tenant') {
      this.#logs.tenantError({
        tenant: entry.tenant,
        deployment: entry.deployment,
        requestId: r.requestId,
        message: boundMessage(r.failure.message, this.#bounds.maxBytes),
        stack: this.#stack(r.failure.tenantStack),
      });
    }
    if (r.trace) {
      const error =
        r.status >= 500 ? (cut ? `limit: ${cut.limit}` : r.failure ? r.failure.kind : `status ${r.status}`) : undefined;
      r.trace.finish(
        {
          'http.response.status_code': r.status,
          'islet.cpu_ms': cpuMs,
          'islet.wall_ms': wallMs,
          'islet.cold_start': r.cold,
          'islet.limit': cut?.limit,
        },
        error,
      );
    }
    if (this.#logRequests) {
      this.#logs.request({
        tenant: entry.tenant,
        deployment: entry.deployment,
        requestId: r.requestId,
        method: r.method,
        path: r.path,
        status: r.status,
        cpuMs,
        wallMs,
        cold: r.cold,
      });
    }
  }
}
