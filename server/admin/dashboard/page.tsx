// The dashboard's HTML shell, rendered on the server with hono/jsx. It holds no tenant data:
// the operator's token lives only in the browser (sessionStorage), so everything behind it is
// fetched by the page's script from the admin API. The markup is complete and labelled without
// the script, so assistive technology sees the same structure the script fills.
import type { FC } from 'hono/jsx';

export interface PageProps {
  /** URL prefix of the dashboard's static files */
  assets: string;
  /** fingerprint appended to asset URLs so a new build is never served from a stale cache */
  version: string;
  title: string;
}

const Nav: FC = () => (
  <nav aria-label="Sections">
    <a href="#/overview" data-view="overview">
      Overview
    </a>
    <a href="#/tenant" data-view="tenant">
      Tenant
    </a>
    <a href="#/limits" data-view="limits">
      Limit events <span id="limit-count" class="count"></span>
    </a>
  </nav>
);

const SignIn: FC = () => (
  <section id="signin" aria-labelledby="signin-title">
    <h2 id="signin-title">Sign in</h2>
    <p>
      Paste the operator token (<code>ISLET_ADMIN_TOKEN</code>, or the file <code>admin-token</code> in the data
      directory) or a tenant deploy token. It stays in this browser tab only.
    </p>
    <form id="signin-form">
      <label for="token">Token</label>
      <input id="token" name="token" type="password" autocomplete="off" required />
      <button type="submit">Sign in</button>
      <p id="signin-error" class="error" role="alert"></p>
    </form>
  </section>
);

const Overview: FC = () => (
  <section id="view-overview" data-view-panel="overview" hidden aria-labelledby="tenants-title">
    <h2 id="tenants-title">Tenants</h2>
    <table id="tenants">
      <caption class="visually-hidden">Tenants with their active deployment, routes and URL</caption>
      <thead>
        <tr>
          <th scope="col">Tenant</th>
          <th scope="col">Active deployment</th>
          <th scope="col">Routes</th>
          <th scope="col">URL</th>
          <th scope="col">Requests/s</th>
          <th scope="col">Errors</th>
          <th scope="col">p50</th>
          <th scope="col">p99</th>
          <th scope="col">CPU</th>
          <th scope="col">Memory</th>
        </tr>
      </thead>
      <tbody></tbody>
    </table>
    <p id="tenants-empty" hidden>
      No tenant yet. Open <a href="#/tenant">Tenant</a> to deploy a first function.
    </p>
    <p class="note" id="metrics-note" aria-live="polite"></p>
  </section>
);

const Tenant: FC = () => (
  <section id="view-tenant" data-view-panel="tenant" hidden aria-labelledby="tenant-title">
    <h2 id="tenant-title">Tenant</h2>
    <form id="tenant-pick">
      <label for="tenant-name">Tenant name</label>
      <input id="tenant-name" name="tenant" list="tenant-names" pattern="[a-z0-9][a-z0-9-]*" required />
      <datalist id="tenant-names"></datalist>
      <button type="submit">Open</button>
    </form>

    <div id="tenant-body" hidden>
      <div class="charts" id="tenant-charts" aria-label="Live metrics of this tenant"></div>

      <h3>Deploy</h3>
      <form id="upload-form">
        <div id="dropzone" class="dropzone" tabindex={0} role="group" aria-describedby="dropzone-help">
          <input id="upload-files" type="file" multiple class="visually-hidden" />
          <input id="upload-folder" type="file" webkitdirectory class="visually-hidden" />
          <p id="dropzone-help">
            Drop a function folder or file here, or choose{' '}
            <label class="link" for="upload-files">
              files
            </label>{' '}
            or a{' '}
            <label class="link" for="upload-folder">
              folder
            </label>
            .
          </p>
          <ul id="upload-list"></ul>
        </div>
        <div class="fields">
          <label>
            Entry <input id="upload-entry" name="entry" placeholder="index.ts" />
          </label>
          <label>
            Routes <input id="upload-routes" name="routes" placeholder="shop.example.com/api*" />
          </label>
          <label>
            <input id="upload-bundle" name="bundle" type="checkbox" /> bundle node_modules
          </label>
          <label>
            <input id="upload-activate" name="activate" type="checkbox" checked /> activate
          </label>
          <button type="submit" id="upload-submit" disabled>
            Upload
          </button>
        </div>
        <p id="upload-status" role="status"></p>
      </form>

      <h3>Environment</h3>
      <p class="note">
        Given to the function as <code>env</code>. A change is picked up by the next request (a new isolate starts).
        Secret values are never shown again.
      </p>
      <table id="env">
        <caption class="visually-hidden">Environment variables and secrets of this tenant</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Value</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody></tbody>
      </table>
      <form id="env-form" class="fields">
        <label>
          Name <input id="env-name" required pattern="[A-Za-z_][A-Za-z0-9_]*" autocomplete="off" />
        </label>
        <label>
          Value <input id="env-value" autocomplete="off" />
        </label>
        <label>
          <input id="env-secret" type="checkbox" /> secret
        </label>
        <button type="submit">Set</button>
      </form>

      <h3>Deployments</h3>
      <table id="deployments">
        <caption class="visually-hidden">Deployments of this tenant, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Deployment</th>
            <th scope="col">Created</th>
            <th scope="col">Entry</th>
            <th scope="col">Size</th>
            <th scope="col">Routes</th>
            <th scope="col">Warnings</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody></tbody>
      </table>

      <h3>Recent logs</h3>
      <div class="log-controls">
        <label>
          <input id="logs-follow" type="checkbox" /> follow
        </label>
        <button type="button" id="logs-refresh">
          Refresh
        </button>
      </div>
      <div id="logs" class="logs" role="log" aria-live="off" tabindex={0}></div>

      <h3>Danger zone</h3>
      <p>
        <button type="button" id="tenant-delete" class="danger">
          Delete this tenant
        </button>{' '}
        with every deployment, its environment and its deploy tokens.
      </p>
    </div>
  </section>
);

const Limits: FC = () => (
  <section id="view-limits" data-view-panel="limits" hidden aria-labelledby="limits-title">
    <h2 id="limits-title">Limit events</h2>
    <p>Requests cut by a limit (CPU, wall time, memory, body size, subrequests, logs), as counted by the metrics.</p>
    <table id="limit-totals">
      <caption>Totals since the server started</caption>
      <thead>
        <tr>
          <th scope="col">Tenant</th>
          <th scope="col">Limit</th>
          <th scope="col">Count</th>
        </tr>
      </thead>
      <tbody></tbody>
    </table>
    <h3>Recent cuts</h3>
    <table id="limit-recent">
      <caption class="visually-hidden">The most recent requests cut by a limit, from the tenants' logs</caption>
      <thead>
        <tr>
          <th scope="col">Time</th>
          <th scope="col">Tenant</th>
          <th scope="col">Limit</th>
          <th scope="col">Measured</th>
          <th scope="col">Request</th>
          <th scope="col">Where</th>
        </tr>
      </thead>
      <tbody></tbody>
    </table>
    <h3>Seen while this page was open</h3>
    <ol id="limit-events" aria-live="polite"></ol>
  </section>
);

export const Page: FC<PageProps> = ({ assets, version, title }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{title}</title>
      <link rel="icon" href="data:," />
      <link rel="stylesheet" href={`${assets}/style.css?v=${version}`} />
      <script type="module" src={`${assets}/app.mjs?v=${version}`}></script>
    </head>
    <body>
      <header>
        <h1>{title}</h1>
        <Nav />
        <button type="button" id="signout" hidden>
          Sign out
        </button>
      </header>
      <main>
        <p id="flash" role="alert" hidden></p>
        <SignIn />
        <Overview />
        <Tenant />
        <Limits />
      </main>
    </body>
  </html>
);
