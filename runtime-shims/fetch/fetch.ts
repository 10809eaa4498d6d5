// fetch(): the isolate builds the Request (so validation errors are the standard ones), then the
// host performs it with undici behind the egress guard. The response body stays on the host and
// is pulled chunk by chunk; a request body that is a stream is pulled by the host the same way.
// A request with `Upgrade: websocket` opens a WebSocket instead (Workers): it resolves to a 101
// Response whose `webSocket` is to be accept()ed, or to the server's ordinary answer.
import { Request, requestState } from './request';
import { type Response, responseFromHost, webSocketResponse } from './response';
import { headerList } from './headers';
import { bodyForHost } from './body';
import { host, hostAsync } from '../internal/bridge';
import { addAbortAlgorithm } from '../abort/abort';
import {
  PromiseReject,
  PromisePrototypeThen,
  SafePromise,
  ArrayPrototypeSlice,
  StringPrototypeToLowerCase,
} from '../internal/primordials';
import { DOMException } from '../events/dom-exception';
import type { FetchAnswer, HostBody } from '../../server/bridge/ops';

export function fetch(input: unknown, init?: Record<string, unknown>): Promise<Response> {
  return fetchVia(input, init, (s, headers, body) => hostAsync('fetch', s.method, s.url, headers, body, s.redirect));
}

/** how a fetch-like call reaches the host: `fetch`, or a service binding's `serviceFetch` */
export type FetchStart = (
  state: ReturnType<typeof requestState>,
  headers: string[],
  body: HostBody,
) => { id: number; promise: Promise<FetchAnswer> };

/** fetch() with the host op `start` chooses: builds the Request, hands it over, answers with the host's Response */
export function fetchVia(input: unknown, init: Record<string, unknown> | undefined, start: FetchStart): Promise<Response> {
  let request: Request;
  try {
    request = input instanceof Request && init === undefined ? input : new Request(input, init);
  } catch (error) {
    return PromiseReject(error);
  }
  const s = requestState(request);
  const signal = request.signal;
  if (signal.aborted) return PromiseReject(signal.reason);
  const upgrade = request.headers.get('upgrade');
  if (upgrade !== null && StringPrototypeToLowerCase(upgrade) === 'websocket') return fetchUpgrade(request);
  let body: HostBody;
  try {
    body = bodyForHost(s.body);
  } catch (error) {
    return PromiseReject(error);
  }
  let op: { id: number; promise: Promise<FetchAnswer> };
  try {
    op = start(s, ArrayPrototypeSlice(headerList(request.headers)), body);
  } catch (error) {
    return PromiseReject(error);
  }
  return new SafePromise<Response>((resolve, reject) => {
    let settled = false;
    addAbortAlgorithm(signal, () => {
      const reason = signal.reason;
      host('abortOp', op.id, reason instanceof DOMException && reason.name === 'TimeoutError' ? 'TimeoutError' : 'AbortError');
      if (!settled) {
        settled = true;
        reject(reason);
      }
    });
    PromisePrototypeThen(
      op.promise,
      ([status, statusText, headers, source, urlList, redirected]) => {
        if (settled) return;
        settled = true;
        resolve(responseFromHost(status, statusText, headers, source === null || typeof source === 'object' ? source : { hostSource: source }, urlList, redirected));
      },
      (error) => {
        if (settled) return;
        settled = true;
        reject(error);
      },
    );
  });
}

declare const require: (id: string) => any;

/** fetch() with `Upgrade: websocket`: a WebSocket through the host's egress guard (workers/websocket.ts) */
function fetchUpgrade(request: Request): Promise<Response> {
  const s = requestState(request);
  let attempt: ReturnType<typeof import('../workers/websocket').fetchWebSocket>;
  try {
    attempt = (require('../workers/websocket') as typeof import('../workers/websocket')).fetchWebSocket(
      s.url,
      ArrayPrototypeSlice(headerList(request.headers)),
    );
  } catch (error) {
    return PromiseReject(error);
  }
  return new SafePromise<Response>((resolve, reject) => {
    const signal = request.signal;
    addAbortAlgorithm(signal, () => {
      attempt.abort();
      reject(signal.reason);
    });
    PromisePrototypeThen(
      attempt.promise,
      (fetched) => {
        if ('answer' in fetched) {
          const [status, statusText, headers, body] = fetched.answer;
          resolve(responseFromHost(status, statusText, headers, body, [s.url], false));
        } else {
          const headers = fetched.protocol ? ['sec-websocket-protocol', fetched.protocol] : [];
          resolve(webSocketResponse(fetched.webSocket, headers, s.url));
        }
      },
      reject,
    );
  });
}
