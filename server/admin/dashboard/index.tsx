// The operator dashboard: a Hono app for the admin port that serves one HTML page at `/` and its
// static files under `/dashboard/`. It holds no data and no secret: the page signs in with a
// token kept in the browser and talks to the admin API (`/v1/...`, `/metrics`) with it, so the
// dashboard needs no authentication of its own and can be mounted before the API's auth.
import { Hono } from 'hono';
import { errorBody, wireCode } from '../errors';
import { loadAssets } from './assets';
import { Page } from './page';

export interface DashboardOptions {
  /** page title (default "islet") */
  title?: string;
  /** folder holding app.mjs, style.css...; default: server/admin/dashboard/assets */
  assetDir?: string;
}

export const DASHBOARD_ASSETS = '/dashboard';

export function createDashboard(options: DashboardOptions = {}): Hono {
  const { files, version } = loadAssets(options.assetDir);
  const title = options.title ?? 'islet';
  const app = new Hono();

  // The page's script only ever talks to this origin: a strict policy costs nothing and stops
  // injected markup from loading or sending anything elsewhere.
  const security = {
    'content-security-policy':
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
      "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };

  app.get('/', (c) => {
    for (const [name, value] of Object.entries(security)) c.header(name, value);
    c.header('cache-control', 'no-cache');
    return c.html('<!doctype html>' + String(<Page assets={DASHBOARD_ASSETS} version={version} title={title} />));
  });

  app.get(`${DASHBOARD_ASSETS}/:file`, (c) => {
    const asset = files.get(c.req.param('file'));
    if (!asset) {
      return c.json(errorBody(wireCode('ISLET_ADMIN_NOT_FOUND'), `no dashboard file ${c.req.param('file')}`), 404);
    }
    if (c.req.header('if-none-match') === asset.etag) return c.body(null, 304, { etag: asset.etag });
    return c.body(new Uint8Array(asset.body), 200, {
      'content-type': asset.type,
      etag: asset.etag,
      'cache-control': 'public, max-age=3600',
      'x-content-type-options': 'nosniff',
    });
  });

  return app;
}
