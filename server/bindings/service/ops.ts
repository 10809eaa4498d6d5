// The serviceFetch op: env.OTHER.fetch(request) in a tenant's isolate. The request is handed to
// the tenant the binding names (./dispatcher.ts) without the network: it runs there under that
// tenant's own limits, metrics and logs, and counts here as one of the caller's subrequests. The
// request body crosses as fetch()'s does (whole, or streamed from the isolate), and so does the
// answer: whole when the callee answered whole, else a host source the caller's isolate reads.
import type { FetchAnswer, HostBody } from '../../bridge/ops';
import type { Completion } from '../../bridge/table';
import { exactBytes } from '../../host/bytes';
import type { HostOpHandlers, RequestRun } from '../../host/run';
import { type BodyStreams, isStreamed } from '../../host/streams/bodies';
import type { HostSources } from '../../host/streams/sources';
import type { SandboxRequest, SandboxResponse } from '../../host/types';
import { refuse } from '../budget';
import type { TenantBindings } from '../context';

export interface ServiceOpParts {
  sources: HostSources;
  bodies: BodyStreams;
}

let nextCall = 1;

export function serviceOps(
  bindings: TenantBindings | undefined,
  parts: ServiceOpParts,
): HostOpHandlers<'serviceFetch'> {
  return {
    serviceFetch: (caller, op, binding, method, url, headers, body) => {
      if (caller === null) {
        refuse(op, ['TypeError', 'service bindings can only be used while handling a request (not in top-level code)']);
        return;
      }
      const callee = bindings?.resolved.services[binding];
      if (!bindings?.services || callee === undefined || !Object.hasOwn(bindings.resolved.services, binding)) {
        refuse(op, ['TypeError', `service binding '${String(binding)}' is not bound to this worker`]);
        return;
      }
      const limits = caller.limits;
      if (caller.subrequests >= limits.subrequests) {
        refuse(op, ['TypeError', `fetch: too many subrequests (the limit is ${limits.subrequests} per request)`]);
        return;
      }
      caller.subrequests++;
      const requestBody = callBody(caller, body, parts.bodies);
      if (requestBody === false) {
        refuse(op, ['TypeError', 'fetch: the request body (a stream from the host) was already read or closed']);
        return;
      }
      // tracing on: the call is a client span of the caller's request, and the callee's request runs under it
      const span = caller.request.trace?.child(`service ${binding}`, 'client', {
        'islet.binding': binding,
        'islet.binding.type': 'service',
        'islet.callee': callee,
        'http.request.method': method,
      });
      const request: SandboxRequest = {
        trace: span,
        id: `${caller.request.id}.s${nextCall++}`,
        method,
        url,
        headers,
        body: requestBody,
        depth: (caller.request.depth ?? 0) + 1,
        root: caller.request.root ?? (caller.request.flags ??= {}),
      };
      const { tenant, observer, services } = bindings;
      services.call(tenant, callee, request).then(
        (response) => {
          span?.end({ 'http.response.status_code': response.status });
          observer.serviceCall(tenant, response.status);
          answer(caller, op, response, parts.sources, url);
        },
        (error: Error) => {
          span?.end({}, error.message);
          observer.serviceCall(tenant, 0);
          op.reject(['Error', error.message]);
        },
      );
    },
  };
}

/** the body as the callee gets it; false when a passed-through host source was already taken */
function callBody(run: RequestRun, body: HostBody, bodies: BodyStreams): SandboxRequest['body'] | false {
  if (body === null) return null;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return body;
  if (!isStreamed(body)) return null;
  const limit = run.limits.requestBodyBytes;
  const stream = bodies.open(run, body, limit, {
    onEnd: () => {},
    onLimit: (bytes) => new TypeError(`fetch: the request body passed ${limit} bytes (${bytes})`),
  });
  return stream ?? false;
}

function answer(
  run: RequestRun,
  op: Completion<FetchAnswer>,
  response: SandboxResponse,
  sources: HostSources,
  url: string,
): void {
  const head = (body: number | Uint8Array | null): FetchAnswer => [
    response.status,
    response.statusText,
    response.headers,
    body,
    [url],
    false,
  ];
  // a WebSocket cannot cross a service binding (yet): the callee's end hears an abnormal close
  response.webSocket?.refuse('a WebSocket cannot be returned through a service binding');
  const body = response.body;
  if (body === null || body instanceof Uint8Array) {
    op.resolve(head(body?.byteLength ? exactBytes(body) : null));
    return;
  }
  const iterator = body[Symbol.asyncIterator]();
  if (run.finished) {
    // nobody will read it: let the callee's isolate stop producing it
    void iterator.return?.()?.catch(() => {});
    return;
  }
  const limit = run.limits.subrequestResponseBytes;
  const source = sources.add(run, iterator, {
    limit,
    onLimit: (bytes) => ['TypeError', `fetch: the response body passed the limit of ${limit} bytes (${bytes})`],
  });
  op.resolve(head(source));
}
