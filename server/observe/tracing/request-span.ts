// The server span of a request through the front: named `<METHOD> <tenant>`, continuing the
// caller's trace only when the peer is trusted (config tracing.trustedPeers), with the
// request's attributes in OpenTelemetry's HTTP semantic conventions plus islet's own
// (tenant, deployment, request id). Its end (status, CPU and wall time, cold start, the limit
// that cut it) is written by accounting (tenants/accounting.ts).
import type { IncomingMessage } from 'node:http';
import type { ServerTrace, Tracing } from './types';

export interface TracedRequest {
  req: IncomingMessage;
  method: string;
  authority: string;
  path: string;
  requestId: string;
  startedNs: bigint;
  route: string | null;
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value; // two traceparent headers: neither is trusted
}

export function requestSpan(
  tracing: Tracing,
  x: TracedRequest,
  state: { tenant: string; manifest: { id: string } },
): ServerTrace {
  const trusted = tracing.trusts(x.req.socket.remoteAddress);
  const query = x.path.indexOf('?');
  const colon = x.authority.lastIndexOf(':');
  const host = colon > x.authority.lastIndexOf(']') ? x.authority.slice(0, colon) : x.authority;
  return tracing.startRequest({
    name: `${x.method} ${state.tenant}`,
    startedNs: x.startedNs,
    traceparent: trusted ? one(x.req.headers.traceparent) : undefined,
    tracestate: trusted ? one(x.req.headers.tracestate) : undefined,
    attributes: {
      'http.request.method': x.method,
      'url.scheme': 'http',
      'url.path': query === -1 ? x.path : x.path.slice(0, query),
      'server.address': host,
      'http.route': x.route ?? undefined,
      'client.address': x.req.socket.remoteAddress,
      'islet.tenant': state.tenant,
      'islet.deployment': state.manifest.id,
      'islet.request_id': x.requestId,
    },
  });
}
