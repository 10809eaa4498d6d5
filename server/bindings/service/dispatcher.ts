// Service bindings on the host: a request one tenant's function hands to another tenant
// (env.OTHER.fetch) goes the way a request from the network goes after routing (tenant state,
// isolate from the pool, dispatch), so the callee runs it under its own limits, concurrency cap,
// metrics and logs. What differs: the callee must list the caller among its `callers`; the call
// chain's depth is bounded (a loop A -> B -> A ... is cut at maxDepth with a 508 answer, and
// the request that started the chain is marked, so its client gets `islet-error: loop`); and a
// failure the front would answer itself (a limit, a start-up failure) comes back to the caller
// as the same answer islet would have sent a client.
import type { Dispatch, SandboxRequest, SandboxResponse } from '../../host/types';
import type { Accounting, FinishedRequest } from '../../tenants/accounting';
import type { TenantDirectory } from '../../tenants/directory';
import { classifyFailure, type Failure } from '../../tenants/limits';
import type { IsolatePool } from '../../tenants/pool';
import type { TenantIsolate } from '../../tenants/tenant-isolate';
import { failureAnswer, failureStatus } from '../../front/status';
import type { ServiceCaller } from '../context';
import { acceptsCaller } from '../resolve';

/** how many service binding calls may nest in one chain (the first call from a request is call 1) */
export const MAX_SERVICE_DEPTH = 16;

/** a service call that cannot be made: the caller's fetch() rejects with this message */
export class ServiceCallError extends Error {
  override name = 'ServiceCallError';
}

export interface ServiceDispatcherDeps {
  directory: TenantDirectory;
  pool: IsolatePool;
  accounting: Accounting;
  maxDepth?: number;
}

/** islet's own short answer, as the front would send it to a client */
function plain(status: number, requestId: string, message: string, error?: string): SandboxResponse {
  const headers = [
    'content-type',
    'text/plain; charset=utf-8',
    'islet-request-id',
    requestId,
    'cache-control',
    'no-store',
  ];
  if (error) headers.push('islet-error', error);
  return { status, statusText: '', headers, body: Buffer.from(`${message}\nrequest id: ${requestId}\n`) };
}

export class ServiceDispatcher implements ServiceCaller {
  readonly #deps: ServiceDispatcherDeps;
  readonly #maxDepth: number;

  constructor(deps: ServiceDispatcherDeps) {
    this.#deps = deps;
    this.#maxDepth = deps.maxDepth ?? MAX_SERVICE_DEPTH;
  }

  async call(caller: string, callee: string, request: SandboxRequest): Promise<SandboxResponse> {
    const depth = request.depth ?? 1;
    if (depth > this.#maxDepth) {
      if (request.root) request.root.loop = true;
      const message =
        `service binding loop: ${caller} -> ${callee} would be call ${depth} of one chain ` +
        `(islet allows ${this.#maxDepth} nested service calls)`;
      return plain(508, request.id, message, 'loop');
    }
    const state = await this.#deps.directory.get(callee);
    if (!state) throw new ServiceCallError(`service binding: tenant '${callee}' has no active deployment`);
    if (!acceptsCaller(state.bindings, caller)) {
      throw new ServiceCallError(
        `service binding: tenant '${callee}' does not accept calls from '${caller}' ` +
          `(the callee lists who may call it in its bindings: "callers": ["${caller}"])`,
      );
    }
    const startedNs = process.hrtime.bigint();
    let entry: TenantIsolate;
    try {
      entry = this.#deps.pool.acquire(state);
    } catch (error) {
      const failure = classifyFailure(error);
      if (failure.kind === 'limit') {
        const { id: requestId, method } = request;
        const status = failureStatus(failure);
        const deployment = state.manifest.id;
        this.#deps.accounting.rejected({
          tenant: callee,
          deployment,
          requestId,
          method,
          path: pathOf(request),
          status,
          failure,
        });
      }
      return this.#failed(request, failure);
    }
    const record: FinishedRequest = {
      entry,
      requestId: request.id,
      method: request.method,
      path: pathOf(request),
      status: 0,
      startedNs,
      cold: !entry.ready,
      account: null,
    };
    if (!entry.ready) {
      try {
        await entry.started;
      } catch (error) {
        return this.#abandoned(record, request, error);
      }
    }
    let dispatch: Dispatch;
    try {
      dispatch = entry.dispatch(request);
    } catch (error) {
      return this.#abandoned(record, request, error);
    }
    // the status first (accounting reads it), then the end: the callee's request is over once its
    // body was read (by the caller) and its waitUntil settled
    const answered = dispatch.response.then(
      (response) => {
        record.status = response.status;
        return response;
      },
      (error: unknown) => {
        record.failure = classifyFailure(error);
        record.status = failureStatus(record.failure);
        return this.#failed(request, record.failure);
      },
    );
    dispatch.done.then(
      (account) => {
        record.account = account;
        this.#finished(record);
      },
      (error) => {
        record.failure ??= classifyFailure(error);
        this.#finished(record);
      },
    );
    return answered;
  }

  /** the callee never ran the request (failed to start, or refused it): accounted, answered as islet would */
  #abandoned(record: FinishedRequest, request: SandboxRequest, error: unknown): SandboxResponse {
    record.entry.release();
    record.failure = classifyFailure(error);
    record.status = failureStatus(record.failure);
    this.#deps.accounting.finish(record);
    return this.#failed(request, record.failure);
  }

  #finished(record: FinishedRequest): void {
    record.entry.release();
    const failure = record.account?.limit ? classifyFailure(record.account.limit) : record.failure;
    if (failure?.kind === 'limit' && failure.limit === 'memory') this.#deps.pool.retire(record.entry, 'killed');
    this.#deps.accounting.finish(record);
  }

  #failed(request: SandboxRequest, failure: Failure): SandboxResponse {
    const { status, message, limit } = failureAnswer(failure);
    return plain(status, request.id, message, limit);
  }
}

function pathOf(request: SandboxRequest): string {
  const url = URL.parse(request.url);
  return url ? `${url.pathname}${url.search}` : '/';
}
