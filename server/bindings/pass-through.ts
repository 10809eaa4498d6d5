// ctx.passThroughOnException(): when the function throws after calling it, the request is
// answered as its origin would answer it, as if no function stood in front of it. The origin is a
// setting of the tenant (`origin`, or `route_origins` per route pattern of its deployment); the
// request goes there through the egress guard like any fetch(), with its method, headers and
// body. A body the function already started streaming cannot be sent again: such a request
// (a body over the small-body size that was not read whole) gets islet's 500 as before, and the
// log says why. Without an origin, the answer is islet's 500 too.
import type { Agent } from 'undici';
import { EgressGuard } from '../host/egress';
import { createEgressAgent, performFetch } from '../host/fetch';
import type { EgressPolicy, SandboxResponse } from '../host/types';
import type { ResolvedBindings } from './resolve';

/** request headers that describe islet's connection with the client, not the request */
const dropped = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

export interface PassThroughRequest {
  method: string;
  /** path and query, as the client sent them */
  path: string;
  /** flat, lower-case names */
  headers: string[];
  body: Uint8Array | AsyncIterable<Uint8Array> | null;
}

export class OriginPassThrough {
  readonly #guard: EgressGuard;
  readonly #timeoutMs: number;
  #agent: Agent | null = null;

  constructor(egress: EgressPolicy, timeoutMs = 30_000) {
    this.#guard = new EgressGuard(egress);
    this.#timeoutMs = timeoutMs;
  }

  /** the origin of a request that matched `route` (null: it came through the tenant's own host name) */
  originFor(bindings: ResolvedBindings, route: string | null): string | null {
    if (route !== null && Object.hasOwn(bindings.routeOrigins, route)) return bindings.routeOrigins[route]!;
    return bindings.origin;
  }

  /**
   * The origin's answer to the request, or null when it cannot be sent (a streamed body). Rejects
   * when the origin cannot be reached (the egress guard refused it, it did not answer in time).
   */
  async send(origin: string, request: PassThroughRequest): Promise<SandboxResponse | null> {
    if (request.body !== null && !(request.body instanceof Uint8Array)) return null;
    // the origin's own path prefix, then the request's path and query
    const url = new URL(origin);
    const q = request.path.indexOf('?');
    url.pathname = url.pathname.replace(/\/$/, '') + (q === -1 ? request.path : request.path.slice(0, q));
    url.search = q === -1 ? '' : request.path.slice(q);
    const headers: string[] = [];
    for (let i = 0; i + 1 < request.headers.length; i += 2) {
      if (!dropped.has(request.headers[i]!)) headers.push(request.headers[i]!, request.headers[i + 1]!);
    }
    this.#agent ??= createEgressAgent(this.#guard);
    const result = await performFetch(this.#agent, {
      method: request.method,
      url: url.href,
      headers,
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(this.#timeoutMs),
    });
    const iterator = result.body;
    return {
      status: result.status,
      statusText: result.statusText,
      headers: result.headers,
      body: iterator ? { [Symbol.asyncIterator]: () => iterator } : null,
    };
  }

  close(): void {
    this.#agent?.destroy().catch(() => {});
    this.#agent = null;
  }
}
