// Response helpers shared by every handler of the function.
export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body, null, 2) + '\n', {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
}

export function notFound(what: string): Response {
  return json({ error: { code: 'NOT_FOUND', message: what } }, 404);
}
