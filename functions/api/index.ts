// api: a small JSON API built with hono, the way a Workers-style function usually is.
//
//   GET    /              what this API offers
//   GET    /notes         every note
//   GET    /notes/:id     one note (404 as JSON when absent)
//   POST   /notes         {"text": "..."} -> 201 with the new note
//   DELETE /notes/:id     remove a note
//
// hono is a bare import: islet's build bundles it into the deployment (from this repository's
// node_modules for `npm start` and `islet dev`; pass `bundle=true` when uploading a folder that
// carries its own node_modules). Notes live in the isolate's memory: they survive between
// requests to the same warm isolate and vanish on redeploy or eviction, which is exactly what a
// stateless edge function should expect.
import { Hono } from 'hono';

interface Note {
  id: number;
  text: string;
  createdAt: string;
}

const notes = new Map<number, Note>();
let nextId = 1;

const app = new Hono();

app.get('/', (c) =>
  c.json({
    name: 'notes',
    routes: ['GET /notes', 'GET /notes/:id', 'POST /notes', 'DELETE /notes/:id'],
  }),
);

app.get('/notes', (c) => c.json({ notes: [...notes.values()] }));

app.get('/notes/:id', (c) => {
  const note = notes.get(Number(c.req.param('id')));
  if (!note) return c.json({ error: { code: 'NOT_FOUND', message: `no note ${c.req.param('id')}` } }, 404);
  return c.json(note);
});

app.post('/notes', async (c) => {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    return c.json({ error: { code: 'BAD_JSON', message: 'the body must be JSON like {"text": "..."}' } }, 400);
  }
  const text = (body as { text?: unknown } | null)?.text;
  if (typeof text !== 'string' || text.length === 0 || text.length > 1000) {
    return c.json({ error: { code: 'BAD_NOTE', message: '"text" must be a string of 1 to 1000 characters' } }, 400);
  }
  const note: Note = { id: nextId++, text, createdAt: new Date().toISOString() };
  notes.set(note.id, note);
  return c.json(note, 201);
});

app.delete('/notes/:id', (c) => {
  const removed = notes.delete(Number(c.req.param('id')));
  return removed
    ? c.body(null, 204)
    : c.json({ error: { code: 'NOT_FOUND', message: `no note ${c.req.param('id')}` } }, 404);
});

app.notFound((c) =>
  c.json(
    {
      error: { code: 'NO_ROUTE', message: `${c.req.method} ${new URL(c.req.url).pathname} is not a route of this API` },
    },
    404,
  ),
);

export default app;
