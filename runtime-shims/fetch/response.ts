// Response (Fetch Standard), with Workers' `webSocket`: `new Response(null, { status: 101,
// webSocket })` answers a WebSocket upgrade (runtime-shims/workers/websocket.ts).
import { Headers, guardHeaders, headersFromList } from './headers';
import { BodyState, extractBody, cloneBody, mixinBody, type Body, type Source } from './body';
import { URL } from '../url/url';
import { SafeTypeError, SafeRangeError, JSONStringify, StringPrototypeCharCodeAt, ObjectDefineProperty } from '../internal/primordials';

export type ResponseType = 'basic' | 'cors' | 'default' | 'error' | 'opaque' | 'opaqueredirect';

export interface ResponseState {
  status: number;
  statusText: string;
  headers: Headers;
  body: BodyState;
  type: ResponseType;
  urlList: string[];
  redirected: boolean;
  /** the WebSocket a 101 answers with (Workers), or null */
  webSocket?: unknown;
}

declare const require: (id: string) => any;
const webSockets = () => require('../workers/websocket') as typeof import('../workers/websocket');

const nullBodyStatus = (s: number) => s === 101 || s === 103 || s === 204 || s === 205 || s === 304;
const redirectStatus = (s: number) => s === 301 || s === 302 || s === 303 || s === 307 || s === 308;

function isReasonPhrase(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = StringPrototypeCharCodeAt(text, i);
    if (!(c === 0x09 || (c >= 0x20 && c <= 0x7e) || (c >= 0x80 && c <= 0xff))) return false;
  }
  return true;
}

const illegal = Symbol('illegal');
let stateOf: (r: Response) => ResponseState;
let isResponse: (value: unknown) => value is Response;
let make: (state: ResponseState) => Response;

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface names what mixinBody() defines below
export class Response {
  #s: ResponseState;

  constructor(
    body: unknown = null,
    init?: { status?: number; statusText?: string; headers?: unknown; webSocket?: unknown },
  ) {
    if ((body as unknown) === illegal) {
      this.#s = init as unknown as ResponseState;
      return;
    }
    const status = init?.status === undefined ? 200 : Number(init.status);
    const webSocket = init?.webSocket ?? null;
    if (webSocket !== null) {
      if (!webSockets().isWebSocket(webSocket)) {
        throw new SafeTypeError("Failed to construct 'Response': the webSocket member is not a WebSocket.");
      }
      if (status !== 101) {
        throw new SafeRangeError("Failed to construct 'Response': Responses with a WebSocket must have status code 101.");
      }
    } else if (!(status >= 200 && status <= 599) || (status | 0) !== status) {
      throw new SafeRangeError(`Failed to construct 'Response': The status provided (${init?.status}) is outside the range [200, 599].`);
    }
    const statusText = init?.statusText === undefined ? '' : String(init.statusText);
    if (!isReasonPhrase(statusText)) throw new SafeTypeError(`Failed to construct 'Response': Invalid statusText "${statusText}".`);
    const headers = new Headers(init?.headers);
    let source: Source = null;
    if (body !== null && body !== undefined) {
      if (nullBodyStatus(status)) throw new SafeTypeError(`Failed to construct 'Response': Response with null body status (${status}) cannot have a body.`);
      const extracted = extractBody(body);
      source = extracted.source;
      if (extracted.type !== null && !headers.has('content-type')) headers.append('content-type', extracted.type);
    }
    guardHeaders(headers, 'response');
    this.#s = { status, statusText, headers, body: new BodyState(source), type: 'default', urlList: [], redirected: false };
    if (webSocket !== null) this.#s.webSocket = webSocket;
  }

  static error(): Response {
    const headers = new Headers();
    guardHeaders(headers, 'immutable');
    return make({ status: 0, statusText: '', headers, body: new BodyState(null), type: 'error', urlList: [], redirected: false });
  }

  static redirect(url: unknown, status = 302): Response {
    const parsed = new URL(String(url));
    status = Number(status);
    if (!redirectStatus(status)) throw new SafeRangeError(`Failed to execute 'redirect' on 'Response': Invalid status code ${status}`);
    const headers = headersFromList(['location', parsed.href], 'immutable');
    return make({ status, statusText: '', headers, body: new BodyState(null), type: 'default', urlList: [], redirected: false });
  }

  static json(data: unknown, init?: { status?: number; statusText?: string; headers?: unknown }): Response {
    const text = JSONStringify(data);
    if (text === undefined) throw new SafeTypeError("Failed to execute 'json' on 'Response': the data is not JSON-serializable");
    const headers = new Headers(init?.headers);
    if (!headers.has('content-type')) headers.append('content-type', 'application/json');
    return new Response(text, { status: init?.status, statusText: init?.statusText, headers });
  }

  get type(): ResponseType { return this.#s.type; }
  get url(): string {
    const list = this.#s.urlList;
    if (list.length === 0) return '';
    const url = list[list.length - 1];
    const hash = url.indexOf('#');
    return hash < 0 ? url : url.slice(0, hash);
  }
  get redirected(): boolean { return this.#s.redirected; }
  get status(): number { return this.#s.status; }
  get ok(): boolean { return this.#s.status >= 200 && this.#s.status <= 299; }
  get statusText(): string { return this.#s.statusText; }
  get headers(): Headers { return this.#s.headers; }
  /** the WebSocket of a 101 (an upgrade answered, or a fetch() that opened one), else null */
  get webSocket(): unknown { return this.#s.webSocket ?? null; }
  clone(): Response {
    const s = this.#s;
    if (s.webSocket) throw new SafeTypeError('Cannot clone a response to a WebSocket handshake.');
    const headers = new Headers(s.headers);
    guardHeaders(headers, s.type === 'error' ? 'immutable' : 'response');
    return make({ ...s, headers, body: cloneBody(s.body) });
  }

  static {
    stateOf = (r) => r.#s;
    // a brand check tenant code cannot forge (instanceof can be: a Proxy of a Response, or a
    // redefined Symbol.hasInstance, passes it and then has no internal state)
    isResponse = (value): value is Response => typeof value === 'object' && value !== null && #s in value;
    make = (state) => new Response(illegal, state as never);
  }
}
// body, bodyUsed, text(), json()...: the body mixin, shared with Request
export interface Response extends Body {}
mixinBody(Response, (r) => stateOf(r).body, (r) => stateOf(r).headers.get('content-type'));
ObjectDefineProperty(Response.prototype, Symbol.toStringTag, { value: 'Response', configurable: true });

/** the internal state of a Response, or null when `value` is not one of ours */
export function responseState(value: unknown): ResponseState | null {
  return isResponse(value) ? stateOf(value) : null;
}

/** the 101 Response of a fetch() that opened a WebSocket */
export function webSocketResponse(webSocket: unknown, headers: string[], url: string): Response {
  return make({
    status: 101,
    statusText: 'Switching Protocols',
    headers: headersFromList(headers, 'immutable'),
    body: new BodyState(null),
    type: 'basic',
    urlList: [url],
    redirected: false,
    webSocket,
  });
}

/** a Response for a fetch() result, built from what the host sent */
export function responseFromHost(status: number, statusText: string, headers: string[], source: Source, urlList: string[], redirected: boolean): Response {
  return make({ status, statusText, headers: headersFromList(headers, 'immutable'), body: new BodyState(source), type: 'basic', urlList, redirected });
}

