// The global EventSource (HTML standard, server-sent events) over the platform's fetch, so every
// connection goes through the host's egress guard and counts as a subrequest of the request that
// opened it. The stream is parsed here (lines, fields, events); a dropped connection is
// re-established after the server's `retry` delay with Last-Event-ID, as the standard says.
// Not part of the bootstrap: a built-in module (islet:event-source) the loader evaluates before
// the code of a deployment that names EventSource (server/tenants/builtins.ts), written against
// the platform's globals, captured when it is evaluated.
const {
  fetch,
  setTimeout,
  clearTimeout,
  EventTarget,
  Event,
  MessageEvent,
  DOMException,
  TextDecoderStream,
  URL,
  AbortController,
} = globalThis;
const SafeTypeError = TypeError;
const { apply } = Reflect;
const call = <T>(fn: (...args: any[]) => T, self: unknown, ...args: unknown[]): T => apply(fn, self, args);
const { indexOf, slice, startsWith } = String.prototype;
const StringPrototypeIndexOf = (s: string, x: string) => call(indexOf, s, x);
const StringPrototypeSlice = (s: string, a: number, b?: number) => call(slice, s, a, b);
const StringPrototypeStartsWith = (s: string, x: string) => call(startsWith, s, x);
const RegExpPrototypeTest = (re: RegExp, s: string) => call(RegExp.prototype.test, re, s);
const PromisePrototypeThen = <T, R>(p: Promise<T>, ok?: ((v: T) => R) | undefined, fail?: (e: unknown) => R) =>
  call(Promise.prototype.then, p, ok, fail) as Promise<R>;

const CONNECTING = 0,
  OPEN = 1,
  CLOSED = 2;
type Handler = ((event: Event) => unknown) | null;

export class EventSource extends EventTarget {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSED = CLOSED;
  readonly CONNECTING = CONNECTING;
  readonly OPEN = OPEN;
  readonly CLOSED = CLOSED;
  #url: string;
  #withCredentials: boolean;
  #readyState = CONNECTING;
  #abort: AbortController | null = null;
  #lastEventId = '';
  #retryMs = 3000;
  #timer: ReturnType<typeof setTimeout> | 0 = 0;
  #handlers: Record<string, Handler> = { open: null, message: null, error: null };

  constructor(url: string | URL, init?: { withCredentials?: boolean }) {
    if (arguments.length === 0)
      throw new SafeTypeError("Failed to construct 'EventSource': 1 argument required, but only 0 present.");
    super();
    let parsed: URL;
    try {
      parsed = new URL(String(url));
    } catch {
      throw new DOMException(`Failed to construct 'EventSource': The URL '${String(url)}' is invalid.`, 'SyntaxError');
    }
    this.#url = parsed.href;
    this.#withCredentials = !!init?.withCredentials;
    this.#connect();
  }

  get url() {
    return this.#url;
  }
  get withCredentials() {
    return this.#withCredentials;
  }
  get readyState() {
    return this.#readyState;
  }

  get onopen() {
    return this.#handlers.open;
  }
  set onopen(handler: Handler) {
    this.#setHandler('open', handler);
  }
  get onmessage() {
    return this.#handlers.message;
  }
  set onmessage(handler: Handler) {
    this.#setHandler('message', handler);
  }
  get onerror() {
    return this.#handlers.error;
  }
  set onerror(handler: Handler) {
    this.#setHandler('error', handler);
  }

  close(): void {
    this.#readyState = CLOSED;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = 0;
    this.#abort?.abort();
    this.#abort = null;
  }

  #setHandler(type: string, handler: Handler): void {
    const old = this.#handlers[type];
    if (old) this.removeEventListener(type, old as never);
    this.#handlers[type] = typeof handler === 'function' ? handler : null;
    if (this.#handlers[type]) this.addEventListener(type, this.#handlers[type] as never);
  }

  #connect(): void {
    const abort = new AbortController();
    this.#abort = abort;
    const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-store' };
    if (this.#lastEventId !== '') headers['last-event-id'] = this.#lastEventId;
    const started = PromisePrototypeThen(fetch(this.#url, { headers, signal: abort.signal }), (response) =>
      this.#opened(response, abort),
    );
    PromisePrototypeThen(started, undefined, (error) => {
      if (abort.signal.aborted || this.#readyState === CLOSED) return;
      void error;
      this.#reconnect();
    });
  }

  async #opened(response: Response, abort: AbortController): Promise<void> {
    if (this.#readyState === CLOSED) return;
    const type = response.headers.get('content-type') ?? '';
    if (
      response.status !== 200 ||
      !RegExpPrototypeTest(/^text\/event-stream\s*(;|$)/i, type) ||
      response.body === null
    ) {
      // not an event stream: fail the connection for good
      this.#readyState = CLOSED;
      abort.abort();
      this.dispatchEvent(new Event('error'));
      return;
    }
    this.#readyState = OPEN;
    this.dispatchEvent(new Event('open'));
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new EventStreamParser(
      (event) => this.#dispatch(event),
      (ms) => (this.#retryMs = ms),
    );
    for (;;) {
      const { done, value } = await reader.read();
      if (done || this.#readyState === CLOSED) break;
      parser.push(value);
    }
    if (this.#readyState !== CLOSED) this.#reconnect();
  }

  #dispatch(event: { type: string; data: string | null; id: string | null }): void {
    if (this.#readyState === CLOSED) return;
    if (event.id !== null) this.#lastEventId = event.id;
    if (event.data === null) return;
    this.dispatchEvent(
      new MessageEvent(event.type, {
        data: event.data,
        origin: new URL(this.#url).origin,
        lastEventId: this.#lastEventId,
      }),
    );
  }

  #reconnect(): void {
    this.#readyState = CONNECTING;
    this.dispatchEvent(new Event('error'));
    if (this.#readyState === CLOSED) return;
    this.#timer = setTimeout(() => {
      this.#timer = 0;
      if (this.#readyState === CONNECTING) this.#connect();
    }, this.#retryMs);
  }
}

/** the text/event-stream format: lines into fields, fields into events */
export class EventStreamParser {
  #buffer = '';
  #first = true;
  #data = '';
  #type = '';
  #id: string | null = null;
  #dispatch: (event: { type: string; data: string | null; id: string | null }) => void;
  #retry: (ms: number) => void;

  constructor(
    dispatch: (event: { type: string; data: string | null; id: string | null }) => void,
    retry: (ms: number) => void,
  ) {
    this.#dispatch = dispatch;
    this.#retry = retry;
  }

  push(text: string): void {
    if (this.#first) {
      if (text.length === 0) return;
      if (text.charCodeAt(0) === 0xfeff) text = StringPrototypeSlice(text, 1);
      this.#first = false;
    }
    this.#buffer += text;
    for (;;) {
      const cr = StringPrototypeIndexOf(this.#buffer, '\r');
      const lf = StringPrototypeIndexOf(this.#buffer, '\n');
      if (cr < 0 && lf < 0) return;
      let end: number;
      let next: number;
      if (cr >= 0 && (lf < 0 || cr < lf)) {
        // a CR at the very end may be the first half of CRLF: wait for more
        if (cr === this.#buffer.length - 1) return;
        end = cr;
        next = this.#buffer.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1;
      } else {
        end = lf;
        next = lf + 1;
      }
      const line = StringPrototypeSlice(this.#buffer, 0, end);
      this.#buffer = StringPrototypeSlice(this.#buffer, next);
      this.#line(line);
    }
  }

  #line(line: string): void {
    if (line === '') {
      // an id-only block still sets the last event id; only data makes an event
      const data =
        this.#data === '' ? null : this.#data.endsWith('\n') ? StringPrototypeSlice(this.#data, 0, -1) : this.#data;
      if (data !== null || this.#id !== null) this.#dispatch({ type: this.#type || 'message', data, id: this.#id });
      this.#data = '';
      this.#type = '';
      this.#id = null;
      return;
    }
    if (StringPrototypeStartsWith(line, ':')) return;
    const colon = StringPrototypeIndexOf(line, ':');
    const field = colon < 0 ? line : StringPrototypeSlice(line, 0, colon);
    let value = colon < 0 ? '' : StringPrototypeSlice(line, colon + 1);
    if (StringPrototypeStartsWith(value, ' ')) value = StringPrototypeSlice(value, 1);
    if (field === 'data') this.#data += value + '\n';
    else if (field === 'event') this.#type = value;
    else if (field === 'id') {
      if (StringPrototypeIndexOf(value, '\0') < 0) this.#id = value;
    } else if (field === 'retry') {
      if (RegExpPrototypeTest(/^\d+$/, value)) this.#retry(Number(value));
    }
  }
}

Object.defineProperty(globalThis, 'EventSource', {
  value: EventSource,
  writable: true,
  configurable: true,
  enumerable: false,
});
Object.defineProperty(EventSource.prototype, Symbol.toStringTag, { value: 'EventSource', configurable: true });
