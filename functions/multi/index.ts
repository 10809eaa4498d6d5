// multi: one function made of several modules joined by relative imports (lib/router.ts,
// lib/quotes.ts, lib/respond.ts). islet's build resolves them into the deployment's module
// graph, so the isolate links real ES modules and stack traces name the original files.
//
//   GET /                 a random quote
//   GET /quotes           every quote
//   GET /quotes/:index    one quote by index (0-based)
import { Router } from './lib/router';
import { quotes } from './lib/quotes';
import { json, notFound } from './lib/respond';

const router = new Router()
  .on('GET', '/', () => json(quotes[Math.floor(Math.random() * quotes.length)]))
  .on('GET', '/quotes', () => json({ quotes }))
  .on('GET', '/quotes/:index', (_request, params) => {
    const index = Number(params.index);
    const quote = Number.isInteger(index) ? quotes[index] : undefined;
    return quote ? json(quote) : notFound(`no quote at index ${params.index}; there are ${quotes.length}`);
  });

export default {
  async fetch(request: Request): Promise<Response> {
    return (
      (await router.handle(request)) ?? notFound(`${request.method} ${new URL(request.url).pathname} is not a route`)
    );
  },
};
