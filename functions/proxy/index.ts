// proxy: forwards each request to an upstream and rewrites the response body as it streams
// through a TransformStream, without ever holding the whole body in memory.
//
// The rewrite replaces every occurrence of the upstream's origin by the proxy's own origin, so
// links in the page keep pointing through the proxy. Text bodies are rewritten; anything else
// (images, archives) is passed through untouched.
//
// Where it forwards to:
//   - by default, the `page` example through a service binding (env.ORIGIN, declared in this
//     folder's wrangler.toml; page's bindings.json lets `proxy` call it): no network at all, so
//     `npm start` works offline;
//   - with the tenant env var UPSTREAM set (`islet env proxy --set UPSTREAM=https://example.com`,
//     or `PUT /v1/tenants/proxy/env`), to that origin with fetch().
//
// islet's egress guard refuses fetches to loopback, private, link-local and cloud-metadata
// addresses (after DNS resolution, and again on every redirect): an UPSTREAM such as
// http://10.0.0.5 or http://localhost answers 502 here unless the operator allowed it in the
// egress policy. Each request may make a limited number of subrequests.

interface Env {
  UPSTREAM?: string;
  /** service binding to the default upstream (the `page` example) */
  ORIGIN?: { fetch(request: Request): Promise<Response> };
}

/** the origin the service binding's requests are addressed to (the callee sees it as its URL) */
const SERVICE_ORIGIN = 'https://page.internal';

/** Replaces `from` by `to` in a stream of text, also where `from` straddles two chunks. */
function replaceAll(from: string, to: string): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  // Text that could be the start of a match the next chunk completes is held back until we know.
  let pending = '';
  return new TransformStream({
    transform(chunk, controller) {
      const text = pending + decoder.decode(chunk, { stream: true });
      // Matches are taken left to right; the held-back tail starts after the last whole match.
      let out = '';
      let from0 = 0;
      for (let at = text.indexOf(from); at !== -1; at = text.indexOf(from, from0)) {
        out += text.slice(from0, at) + to;
        from0 = at + from.length;
      }
      let cut = text.length;
      for (let n = Math.min(from.length - 1, text.length - from0); n > 0; n--) {
        if (from.startsWith(text.slice(text.length - n))) {
          cut = text.length - n;
          break;
        }
      }
      out += text.slice(from0, cut);
      pending = text.slice(cut);
      if (out) controller.enqueue(encoder.encode(out));
    },
    flush(controller) {
      const rest = pending + decoder.decode();
      if (rest) controller.enqueue(encoder.encode(rest.split(from).join(to)));
    },
  });
}

function isText(contentType: string | null): boolean {
  return !!contentType && /^(text\/|application\/(json|javascript|xml|xhtml\+xml))/i.test(contentType);
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    let upstream: URL;
    try {
      upstream = new URL(env.UPSTREAM || SERVICE_ORIGIN);
    } catch {
      return new Response(`UPSTREAM is not a URL: ${env.UPSTREAM}\n`, { status: 500 });
    }
    const incoming = new URL(request.url);
    const target = new URL(incoming.pathname + incoming.search, upstream);

    const headers = new Headers(request.headers);
    headers.delete('host');
    const forwarded = new Request(target.toString(), {
      method: request.method,
      headers,
      body: request.method === 'GET' || request.method === 'HEAD' ? undefined : request.body,
      redirect: 'manual',
    });
    let response: Response;
    try {
      if (env.UPSTREAM) response = await fetch(forwarded);
      else if (env.ORIGIN) response = await env.ORIGIN.fetch(forwarded);
      else return new Response('set UPSTREAM, or bind ORIGIN to a service\n', { status: 500 });
    } catch (err) {
      // Refused by the egress guard, DNS failure, timeout: say which upstream, not a stack.
      return new Response(`upstream ${upstream.origin} could not be reached: ${(err as Error).message}\n`, {
        status: 502,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
      });
    }

    const out = new Headers(response.headers);
    out.set('x-proxied-by', 'islet');
    // The body changes length once rewritten, and is re-encoded as plain bytes.
    out.delete('content-length');
    out.delete('content-encoding');
    const location = out.get('location');
    if (location) out.set('location', location.split(upstream.origin).join(incoming.origin));

    const body =
      response.body && isText(response.headers.get('content-type'))
        ? response.body.pipeThrough(replaceAll(upstream.origin, incoming.origin))
        : response.body;
    return new Response(body, { status: response.status, statusText: response.statusText, headers: out });
  },
};
