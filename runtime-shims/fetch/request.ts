// Request (Fetch Standard), as seen by server-side functions: no CORS modes or credentials to
// enforce, but the same validation, body rules and immutability as in browsers. The incoming
// request is built lazily: its headers object and URL are only materialised when read.
import { Headers, guardHeaders, headersFromList } from './headers';
import { BodyState, extractBody, bodyUsed, cloneBody, mixinBody, type Body, type Source } from './body';
import { AbortSignal, newSignal, abortSignal, addAbortAlgorithm } from '../abort/abort';
import { URL } from '../url/url';
import { isToken } from './headers';
import { cfObject } from './request-cf';
import type { CfFlat } from '../../server/bridge/ops';
import { SafeTypeError, StringPrototypeToUpperCase, ObjectDefineProperty } from '../internal/primordials';

export interface RequestState {
  method: string;
  url: string;
  headers: Headers | null;
  /** the host's flat header list, until `headers` is first read */
  rawHeaders: string[] | null;
  body: BodyState;
  redirect: RequestRedirect;
  signal: AbortSignal | null;
  integrity: string;
  keepalive: boolean;
  cache: string;
  duplex: 'half' | null;
  cf: unknown;
  /** an incoming request's cf values, until `cf` is first read (see request-cf.ts) */
  cfFlat: CfFlat | undefined;
}
type RequestRedirect = 'follow' | 'error' | 'manual';

const normalizedMethods = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH']);
const forbiddenMethods = new Set(['CONNECT', 'TRACE', 'TRACK']);

const illegal = Symbol('illegal');
let stateOf: (r: Request) => RequestState;
let make: (state: RequestState) => Request;

function cfOf(s: RequestState): unknown {
  if (s.cfFlat !== undefined) {
    s.cf = cfObject(s.cfFlat);
    s.cfFlat = undefined;
  }
  return s.cf;
}

function headersOf(s: RequestState): Headers {
  if (s.headers === null) {
    s.headers = headersFromList(s.rawHeaders!, 'request');
    s.rawHeaders = null;
  }
  return s.headers;
}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface names what mixinBody() defines below
export class Request {
  #s: RequestState;

  constructor(input: unknown, init?: Record<string, any>) {
    if (input === illegal) {
      this.#s = init as unknown as RequestState;
      return;
    }
    if (arguments.length === 0) throw new SafeTypeError("Failed to construct 'Request': 1 argument required, but only 0 present.");
    let base: RequestState | null = null;
    let url: string;
    if (input instanceof Request) {
      base = input.#s;
      url = base.url;
    } else {
      let parsed: URL;
      try {
        parsed = new URL(String(input));
      } catch {
        throw new SafeTypeError(`Failed to construct 'Request': Invalid URL "${String(input)}" (a Request needs an absolute URL)`);
      }
      if (parsed.username || parsed.password) throw new SafeTypeError(`Failed to construct 'Request': Request cannot be constructed from a URL that includes credentials: ${String(input)}`);
      url = parsed.href;
    }
    init = init ?? {};
    let method = base ? base.method : 'GET';
    if (init.method !== undefined) {
      const m = String(init.method);
      if (!isToken(m)) throw new SafeTypeError(`Failed to construct 'Request': '${m}' is not a valid HTTP method.`);
      const upper = StringPrototypeToUpperCase(m);
      if (forbiddenMethods.has(upper)) throw new SafeTypeError(`Failed to construct 'Request': '${m}' HTTP method is unsupported.`);
      method = normalizedMethods.has(upper) ? upper : m;
    }
    const redirect: RequestRedirect = init.redirect !== undefined ? init.redirect : base ? base.redirect : 'follow';
    if (redirect !== 'follow' && redirect !== 'error' && redirect !== 'manual') throw new SafeTypeError(`Failed to construct 'Request': The provided value '${redirect}' is not a valid enum value of type RequestRedirect.`);
    const headers = new Headers(init.headers !== undefined ? init.headers : base ? headersOf(base) : undefined);
    const signal = newSignal();
    const parentSignal = init.signal !== undefined ? init.signal : base ? base.signal : null;
    if (parentSignal !== null && parentSignal !== undefined) {
      if (!(parentSignal instanceof AbortSignal)) throw new SafeTypeError("Failed to construct 'Request': member signal is not of type AbortSignal.");
      if (parentSignal.aborted) abortSignal(signal, parentSignal.reason);
      else addAbortAlgorithm(parentSignal, () => abortSignal(signal, parentSignal.reason));
    }
    let body: BodyState;
    const initBody = init.body;
    if (initBody !== undefined && initBody !== null) {
      if (method === 'GET' || method === 'HEAD') throw new SafeTypeError("Failed to construct 'Request': Request with GET/HEAD method cannot have body.");
      const extracted = extractBody(initBody);
      if (extracted.type !== null && !headers.has('content-type')) headers.append('content-type', extracted.type);
      body = new BodyState(extracted.source);
    } else if (base && base.body.source !== null) {
      if (bodyUsed(base.body)) throw new SafeTypeError("Failed to construct 'Request': Cannot construct a Request with a Request object that has already been used.");
      if ((method === 'GET' || method === 'HEAD') && init.method !== undefined) throw new SafeTypeError("Failed to construct 'Request': Request with GET/HEAD method cannot have body.");
      // the new request takes the body over; the input becomes used
      body = new BodyState(base.body.source);
      base.body.used = true;
    } else {
      body = new BodyState(null);
    }
    guardHeaders(headers, 'request');
    this.#s = {
      method, url, headers, rawHeaders: null, body, redirect, signal,
      integrity: init.integrity !== undefined ? String(init.integrity) : base ? base.integrity : '',
      keepalive: init.keepalive !== undefined ? !!init.keepalive : base ? base.keepalive : false,
      cache: init.cache !== undefined ? String(init.cache) : base ? base.cache : 'default',
      duplex: init.duplex === 'half' ? 'half' : null,
      cf: init.cf !== undefined ? init.cf : base ? cfOf(base) : undefined,
      cfFlat: undefined,
    };
  }

  get method(): string { return this.#s.method; }
  get url(): string { return this.#s.url; }
  get headers(): Headers { return headersOf(this.#s); }
  get redirect(): RequestRedirect { return this.#s.redirect; }
  get signal(): AbortSignal { return (this.#s.signal ??= newSignal()); }
  get integrity(): string { return this.#s.integrity; }
  get keepalive(): boolean { return this.#s.keepalive; }
  get cache(): string { return this.#s.cache; }
  get credentials(): string { return 'same-origin'; }
  get mode(): string { return 'cors'; }
  get destination(): string { return ''; }
  get referrer(): string { return 'about:client'; }
  get referrerPolicy(): string { return ''; }
  get duplex(): string { return 'half'; }
  get cf(): unknown { return cfOf(this.#s); }
  clone(): Request {
    const s = this.#s;
    const headers = new Headers(headersOf(s));
    guardHeaders(headers, 'request');
    const signal = newSignal();
    const parent = s.signal;
    if (parent) {
      if (parent.aborted) abortSignal(signal, parent.reason);
      else addAbortAlgorithm(parent, () => abortSignal(signal, parent.reason));
    }
    cfOf(s);
    return make({ ...s, headers, rawHeaders: null, body: cloneBody(s.body), signal });
  }

  static {
    stateOf = (r) => r.#s;
    make = (state) => new Request(illegal, state as never);
  }
}
// body, bodyUsed, text(), json()...: the body mixin, shared with Response
export interface Request extends Body {}
mixinBody(Request, (r) => stateOf(r).body, (r) => headersOf(stateOf(r)).get('content-type'));
ObjectDefineProperty(Request.prototype, Symbol.toStringTag, { value: 'Request', configurable: true });

export function requestState(value: Request): RequestState {
  return stateOf(value);
}

/** the incoming request of a dispatch: nothing is parsed or copied until the function reads it */
export function incomingRequest(method: string, url: string, rawHeaders: string[], body: Source, cf: CfFlat): Request {
  return make({
    method, url, headers: null, rawHeaders, body: new BodyState(body), redirect: 'manual', signal: null,
    integrity: '', keepalive: false, cache: 'default', duplex: null, cf: undefined, cfFlat: cf,
  });
}
