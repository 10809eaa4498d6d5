// The `fetch` op: a tenant's subrequests, performed by undici on the host (./fetch.ts) behind the
// egress guard, counted against the request's subrequest limit and bounded by its per-fetch time
// and response size limits. The request body crosses whole, or streams from the isolate (a
// sink), or is a host source passed through; the response body stays on the host as a source
// the isolate reads, unless it is small and announced by its length: then it arrives whole with
// the head, in one entry instead of one per chunk plus one for the end. A whole request body and
// a small response body read whole are held on the host until the fetch is done with them: they
// are charged to the isolate's memory meanwhile (./host-memory.ts), and a fetch that would pass
// its limit is refused with QuotaExceededError.
import type { Agent } from 'undici';
import type { AbortName, FetchAnswer, HostBody, RedirectMode } from '../bridge/ops';
import type { Completion } from '../bridge/table';
import { EgressGuard, systemLookup } from './egress';
import { createEgressAgent, declaredSmallBody, fetchErrorMessage, performFetch, readWhole } from './fetch';
import type { FetchInput } from './fetch';
import { SMALL_BODY_BYTES } from './bytes';
import { refusal, type HostMemory } from './host-memory';
import type { PendingOps } from './pending-ops';
import type { HostOpHandlers, RequestRun } from './run';
import { isStreamed, type BodyStreams } from './streams/bodies';
import type { HostSources } from './streams/sources';
import type { SandboxOptions } from './types';
import { dnsPool } from './work-pool';
import type { ChildSpan, RequestTrace } from '../observe/tracing/types';

export interface SubrequestParts {
  pending: PendingOps;
  sources: HostSources;
  bodies: BodyStreams;
  memory: HostMemory;
}

/** bytes a whole request body holds on the host (a string is held as up to 2 bytes a character) */
function wholeBodyBytes(body: HostBody): number {
  if (typeof body === 'string') return body.length * 2;
  return body instanceof Uint8Array ? body.byteLength : 0;
}

function abortError(name: AbortName): DOMException {
  return name === 'TimeoutError'
    ? new DOMException('The operation timed out', 'TimeoutError')
    : new DOMException('The operation was aborted', 'AbortError');
}

export class Subrequests {
  readonly #options: SandboxOptions;
  readonly #parts: SubrequestParts;
  readonly #guard: EgressGuard;
  #agent: Agent | null = null;
  #disposed = false;

  constructor(options: SandboxOptions, parts: SubrequestParts) {
    this.#options = options;
    this.#parts = parts;
    // getaddrinfo holds a thread of libuv's pool for as long as the resolver takes (seconds for a
    // name that does not answer): lookups go through the fair DNS pool, at most one per tenant
    this.#guard = new EgressGuard(
      options.egress,
      (name) => dnsPool.submit(options.tenant, () => systemLookup(name)).result,
    );
  }

  readonly ops: HostOpHandlers<'fetch'> = {
    fetch: (caller, op, method, url, headers, body, redirect) => {
      if (!caller) throw new TypeError('fetch() can only be used while handling a request (not in top-level code)');
      this.#fetch(caller, op, method, url, headers, body, redirect);
    },
  };

  #fetch(
    run: RequestRun,
    op: Completion<FetchAnswer>,
    method: string,
    url: string,
    headers: string[],
    body: HostBody,
    redirect: RedirectMode,
  ): void {
    const limits = run.limits;
    const controller = new AbortController();
    op.onAbort((name) => controller.abort(abortError(name)));
    const refuse = (message: string) => {
      this.#done(0);
      queueMicrotask(() => op.reject(['TypeError', message]));
    };
    if (run.subrequests >= limits.subrequests) {
      refuse(`fetch: too many subrequests (the limit is ${limits.subrequests} per request)`);
      return;
    }
    // a whole request body stays here until the fetch settles
    const held = isStreamed(body) ? 0 : wholeBodyBytes(body);
    if (!this.#parts.memory.tryCharge(held)) {
      this.#done(0);
      const message = refusal(held, 'fetch: the request body');
      queueMicrotask(() => op.reject(['QuotaExceededError', message]));
      return;
    }
    let bodyReleased = false;
    const releaseBody = () => {
      if (bodyReleased) return;
      bodyReleased = true;
      this.#parts.memory.release(held);
    };
    run.subrequests++;
    let requestBody: FetchInput['body'];
    if (isStreamed(body)) {
      requestBody = this.#parts.bodies.open(run, body, limits.requestBodyBytes, {
        onEnd: () => {},
        onLimit: (bytes) => new TypeError(`fetch: the request body passed ${limits.requestBodyBytes} bytes (${bytes})`),
      });
      if (!requestBody) {
        run.subrequests--;
        releaseBody();
        refuse('fetch: the request body (a stream from the host) was already read or closed');
        return;
      }
    } else requestBody = body;
    this.#agent ??= createEgressAgent(this.#guard);
    // tracing on: a client span for this subrequest, named as the parent of whatever serves it
    const span = run.request.trace ? fetchSpan(run.request.trace, method, url) : null;
    if (span) headers = withTraceContext(headers, span.traceparent, span.tracestate);
    const timeout = setTimeout(() => {
      controller.abort(new DOMException(`fetch: no response within ${limits.subrequestTimeoutMs} ms`, 'TimeoutError'));
    }, limits.subrequestTimeoutMs);
    const input = { method, url, headers, body: requestBody, redirect, signal: controller.signal };
    performFetch(this.#agent, input).then(
      (result) => {
        releaseBody();
        this.#done(result.status);
        span?.end(
          { 'http.response.status_code': result.status },
          result.status >= 500 ? `status ${result.status}` : undefined,
        );
        if (run.finished || this.#disposed) {
          // the request ended while the response was on its way: nobody will read this body
          clearTimeout(timeout);
          controller.abort(new DOMException('the request ended', 'AbortError'));
          return;
        }
        const answer = (body: number | Uint8Array | null): FetchAnswer => {
          return [result.status, result.statusText, result.headers, body, result.urlList, result.redirected];
        };
        const max = Math.min(limits.subrequestResponseBytes, SMALL_BODY_BYTES);
        const small = result.body ? declaredSmallBody(result.headers, max) : null;
        if (small !== null && this.#parts.memory.tryCharge(small)) {
          // read before the response is handed over; the time limit and an abort still apply
          readWhole(result.body!, small).then(
            (bytes) => {
              clearTimeout(timeout);
              this.#parts.memory.release(small);
              if (run.finished || this.#disposed) return;
              op.resolve(answer(bytes));
            },
            (error) => {
              clearTimeout(timeout);
              this.#parts.memory.release(small);
              op.reject(fetchErrorMessage(error));
            },
          );
          return;
        }
        if (!result.body) {
          clearTimeout(timeout);
          op.resolve(answer(null));
          return;
        }
        let release = () => {};
        const source = this.#parts.sources.add(run, result.body, {
          limit: limits.subrequestResponseBytes,
          onLimit: (bytes) => {
            clearTimeout(timeout);
            const max = limits.subrequestResponseBytes;
            return ['TypeError', `fetch: the response body of ${url} passed the limit of ${max} bytes (${bytes})`];
          },
          // the body's iterator holds the stream's lock, so cancelling the stream itself would be
          // refused: aborting the fetch is what closes the upstream connection
          cancel: () => {
            clearTimeout(timeout);
            controller.abort(new DOMException('the body is no longer needed', 'AbortError'));
          },
          onClose: () => {
            clearTimeout(timeout);
            release();
          },
        });
        // the op completes now, but an abort must still stop its body
        release = this.#parts.pending.linger(op.id, (name) => {
          controller.abort(new DOMException('The operation was aborted', name));
        });
        op.resolve(answer(source));
      },
      (error) => {
        releaseBody();
        clearTimeout(timeout);
        this.#done(0);
        const message = fetchErrorMessage(error);
        span?.end({}, message[1]);
        op.reject(message);
      },
    );
  }

  /** tells the observer a subrequest finished (status 0: refused or failed) */
  #done(status: number): void {
    try {
      this.#options.onSubrequest?.(status);
    } catch {
      // an observer failure must not become an unhandled rejection
    }
  }

  dispose(): void {
    this.#disposed = true;
    this.#agent?.destroy().catch(() => {});
    this.#agent = null;
  }
}

/** a client span for one fetch(): `fetch <METHOD> <host>`, the URL without its query (it may hold secrets) */
function fetchSpan(trace: RequestTrace, method: string, url: string): ChildSpan {
  const parsed = URL.parse(url);
  return trace.child(`fetch ${method} ${parsed?.host ?? ''}`.trimEnd(), 'client', {
    'http.request.method': method,
    'url.full': parsed ? `${parsed.protocol}//${parsed.host}${parsed.pathname}` : undefined,
    'server.address': parsed?.hostname,
  });
}

/** the tenant's headers with the W3C trace context of `span` in place of any it set itself */
function withTraceContext(headers: string[], traceparent: string, tracestate: string | undefined): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    if (name !== 'traceparent' && name !== 'tracestate') out.push(headers[i]!, headers[i + 1]!);
  }
  out.push('traceparent', traceparent);
  if (tracestate) out.push('tracestate', tracestate);
  return out;
}
