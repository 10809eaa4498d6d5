// `islet dev --test-scheduled`: as `wrangler dev --test-scheduled`, a request to
// /__scheduled?cron=<expression> on the function's port runs its scheduled handler now (and is
// not handed to its fetch handler). The answer says how the run ended.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CronRunner } from './runner';

/** true when `req` was a /__scheduled request and has been answered */
export function testScheduled(req: IncomingMessage, res: ServerResponse, runner: CronRunner, tenant: string): boolean {
  const url = new URL(req.url ?? '/', 'http://dev.invalid');
  if (url.pathname !== '/__scheduled') return false;
  const cron = (url.searchParams.get('cron') ?? '').slice(0, 256);
  const time = Number(url.searchParams.get('time') ?? Date.now());
  runner.run(tenant, cron, Number.isSafeInteger(time) ? time : Date.now()).then(
    (result) => {
      const ok = result.outcome === 'ok';
      res.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(
        ok
          ? 'Ran scheduled event\n'
          : `Scheduled event failed: ${result.outcome}${result.error ? `: ${result.error}` : ''}\n`,
      );
    },
    (error: Error) => {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`${error.message}\n`);
    },
  );
  return true;
}
