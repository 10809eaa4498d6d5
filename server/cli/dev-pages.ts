// What `islet dev` answers instead of the function when the function cannot answer: while the
// last build failed, every request gets the build error (a page for a browser, which reloads
// itself every two seconds until a build succeeds; plain text for curl and scripts) rather than a
// misleading 404 or stale code; and when the function throws, a browser gets a page with the error
// and its source-mapped stack instead of islet's one-line 500. Only in dev: `islet serve` never
// shows a tenant's errors to its visitors.
import type { IncomingMessage, ServerResponse } from 'node:http';

export function wantsHtml(req: IncomingMessage): boolean {
  return /\btext\/html\b/.test(String(req.headers.accept ?? ''));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `body{margin:0;font:15px/1.5 system-ui,sans-serif;background:#f6f7f9;color:#1d2430}
main{max-width:60rem;margin:3rem auto;padding:0 1.5rem}h1{font-size:1.25rem;margin:0 0 .25rem}
.tag{display:inline-block;background:#fde8e7;color:#b42318;border-radius:4px;padding:.1rem .5rem;font-size:.8rem;font-weight:600}
p.meta{color:#667085;margin:.25rem 0 1rem}pre{background:#0b1220;color:#e4e7ec;padding:1rem 1.25rem;border-radius:8px;overflow:auto;
font:13px/1.55 ui-monospace,Menlo,monospace;white-space:pre-wrap;word-break:break-word}`;

/** An error page; the body is text the tenant's code or build produced, escaped. */
export function errorPage(options: {
  title: string;
  tag: string;
  meta: string;
  body: string;
  refresh?: boolean;
}): string {
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    (options.refresh ? '<meta http-equiv="refresh" content="2">' : '') +
    `<title>${escapeHtml(options.title)}</title><style>${STYLE}</style></head><body><main>` +
    `<span class="tag">${escapeHtml(options.tag)}</span><h1>${escapeHtml(options.title)}</h1>` +
    `<p class="meta">${escapeHtml(options.meta)}</p><pre>${escapeHtml(options.body)}</pre></main></body></html>`
  );
}

/** The answer while the last build failed: 500, with the error as a page or as text. */
export function sendBuildError(req: IncomingMessage, res: ServerResponse, tenant: string, message: string): void {
  const html = wantsHtml(req);
  const body = html
    ? errorPage({
        title: 'Build failed',
        tag: 'islet dev',
        meta: `${tenant}: fix the error and save; this page reloads until the build succeeds.`,
        body: message,
        refresh: req.method === 'GET',
      })
    : `islet dev: the build of ${tenant} failed; fix it and save:\n\n${message}\n`;
  res.writeHead(500, {
    'content-type': html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'islet-error': 'build',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** islet's own one-line answers for a function that threw or could not start (front/) */
const FAILURES = ['the function threw an exception', 'the function failed to start'];

/**
 * Lets a browser's request through to the function; if islet answers it with its own 500 for a
 * thrown exception or a failed start, `explain(requestId)` is asked for the error (message and
 * mapped stack) and a page with it is sent instead. Anything else (the function's own 500s
 * included) passes through untouched.
 */
export function explainFailures(
  res: ServerResponse,
  explain: (requestId: string) => Promise<{ message: string; stack?: string } | null>,
): void {
  const writeHead = res.writeHead;
  const end = res.end;
  let held: unknown[] | null = null;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (args[0] === 500 && !held) {
      held = args;
      return this;
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof res.writeHead;
  const release = () => {
    res.writeHead = writeHead;
    res.end = end;
    if (held) (writeHead as (...a: unknown[]) => ServerResponse).apply(res, held);
    held = null;
  };
  res.write = new Proxy(res.write, {
    apply(target, self, args) {
      release();
      return Reflect.apply(target, self, args);
    },
  });
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    const body = typeof args[0] === 'string' ? args[0] : Buffer.isBuffer(args[0]) ? args[0].toString('utf8') : '';
    const headers = held?.[1];
    const requestId = /request id: (\S+)/.exec(body)?.[1];
    if (!held || !requestId || !FAILURES.some((f) => body.startsWith(f)) || !Array.isArray(headers)) {
      release();
      return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
    }
    const head = held;
    held = null;
    res.writeHead = writeHead;
    res.end = end;
    void explain(requestId).then(
      (error) => {
        const page = errorPage({
          title: error?.message ?? body.split('\n')[0]!,
          tag: 'Uncaught error',
          meta: `request ${requestId}: islet answers 500 here; the stack is mapped to your source files.`,
          body: error ? (error.stack ?? error.message) : body,
        });
        (writeHead as (...a: unknown[]) => ServerResponse).call(res, 500, {
          'content-type': 'text/html; charset=utf-8',
          'content-length': Buffer.byteLength(page),
          'cache-control': 'no-store',
          'islet-request-id': requestId,
        });
        (end as (...a: unknown[]) => ServerResponse).call(res, page);
      },
      () => {
        (writeHead as (...a: unknown[]) => ServerResponse).apply(res, head);
        (end as (...a: unknown[]) => ServerResponse).call(res, body);
      },
    );
    return this;
  } as typeof res.end;
}
