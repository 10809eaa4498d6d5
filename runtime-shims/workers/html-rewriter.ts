// The global HTMLRewriter (Workers' streaming HTML rewriter), on lol-html compiled to WebAssembly
// (the `html-rewriter-wasm` package, with asyncify so handlers may be async). It runs in the
// tenant's isolate: its CPU is the request's, its wasm memory counts against the isolate's limit.
// islet evaluates this module before a deployment's code only when that code mentions
// HTMLRewriter; the wasm itself is decoded and compiled on the first transform.
type Handlers = Record<string, unknown>;

interface RawRewriter {
  on(selector: string, handlers: Handlers): RawRewriter;
  onDocument(handlers: Handlers): RawRewriter;
  write(chunk: Uint8Array): Promise<void>;
  end(): Promise<void>;
  free(): void;
}
type RawRewriterClass = new (sink: (chunk: Uint8Array) => void, options?: { enableEsiTags?: boolean }) => RawRewriter;

declare const require: (id: string) => any;
let engine: RawRewriterClass | null = null;
function rawRewriter(): RawRewriterClass {
  engine ??= require('html-rewriter-wasm/dist/html_rewriter.js').HTMLRewriter as RawRewriterClass;
  return engine;
}

export class HTMLRewriter {
  #elements: [string, Handlers][] = [];
  #documents: Handlers[] = [];
  #options: { enableEsiTags?: boolean };

  constructor(options: { enableEsiTags?: boolean } = {}) {
    this.#options = { enableEsiTags: options?.enableEsiTags === true };
  }

  on(selector: string, handlers: Handlers): this {
    if (typeof selector !== 'string') throw new TypeError('HTMLRewriter.on: the selector must be a string');
    this.#elements.push([selector, handlers]);
    return this;
  }

  onDocument(handlers: Handlers): this {
    this.#documents.push(handlers);
    return this;
  }

  transform(response: Response): Response {
    if (!(response instanceof Response)) throw new TypeError('HTMLRewriter.transform: expected a Response');
    const body = response.body;
    const init = { status: response.status, statusText: response.statusText, headers: new Headers(response.headers) };
    init.headers.delete('content-length');
    if (body === null) return new Response(null, init);
    const reader = body.getReader();
    const Raw = rawRewriter();
    let raw: RawRewriter | null = null;
    let produced = 0;
    const free = () => {
      if (raw) raw.free();
      raw = null;
    };
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        raw = new Raw((chunk) => {
          if (chunk.byteLength === 0) return;
          produced++;
          controller.enqueue(new Uint8Array(chunk));
        }, this.#options);
        for (const [selector, handlers] of this.#elements) raw.on(selector, handlers);
        for (const handlers of this.#documents) raw.onDocument(handlers);
      },
      // a pull must enqueue something or finish: lol-html holds back input it cannot decide on
      // yet (a possible comment, a selector's match), and a pull that enqueues nothing is not
      // called again, so it reads on until the rewriter gives out bytes
      pull: async (controller) => {
        try {
          const before = produced;
          while (produced === before) {
            const { done, value } = await reader.read();
            if (done) {
              await raw!.end();
              free();
              controller.close();
              return;
            }
            await raw!.write(value instanceof Uint8Array ? value : new Uint8Array(value));
          }
        } catch (error) {
          free();
          void reader.cancel(error).catch(() => {});
          throw error;
        }
      },
      cancel: (reason) => {
        free();
        return reader.cancel(reason);
      },
    });
    return new Response(stream, init);
  }
}

Object.defineProperty(globalThis, 'HTMLRewriter', {
  value: HTMLRewriter,
  writable: true,
  configurable: true,
  enumerable: false,
});
