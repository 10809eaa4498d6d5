// page: a server-rendered HTML page. Everything the browser needs comes in one response: the
// markup, a few lines of CSS, no client-side script. The greeting follows `?name=`, escaped
// before it reaches the HTML, and the page shows what the edge saw of the request.
//
//   GET /            the page
//   GET /?name=Ada   the page, greeting Ada
//   anything else    404 page

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => escapes[ch]!);
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #1d2430; }
  h1 { font-size: 1.6rem; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
  dt { font-weight: 600; }
  code { background: #eef1f5; padding: 0 .25rem; border-radius: 3px; }
</style>
</head>
<body>
${body}
</body>
</html>`;
}

export default {
  fetch(request: Request): Response {
    const url = new URL(request.url);
    if (url.pathname !== '/') {
      return new Response(
        layout('Not found', `<h1>Not found</h1><p><code>${escapeHtml(url.pathname)}</code> is not a page here.</p>`),
        {
          status: 404,
          headers: { 'content-type': 'text/html; charset=utf-8' },
        },
      );
    }
    const name = (url.searchParams.get('name') ?? '').trim().slice(0, 80) || 'visitor';
    const body = `<h1>Hello, ${escapeHtml(name)}!</h1>
<p>This page was rendered at the edge, inside a V8 isolate, at ${escapeHtml(new Date().toISOString())}.</p>
<dl>
  <dt>Method</dt><dd>${escapeHtml(request.method)}</dd>
  <dt>Path</dt><dd><code>${escapeHtml(url.pathname + url.search)}</code></dd>
  <dt>User agent</dt><dd>${escapeHtml(request.headers.get('user-agent') ?? 'none')}</dd>
</dl>
<form method="get"><label>Your name <input name="name" value="${escapeHtml(name)}"></label> <button>Greet</button></form>`;
    return new Response(layout(`Hello, ${name}`, body), {
      headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
    });
  },
};
