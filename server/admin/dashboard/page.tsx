// The dashboard's HTML shell, rendered on the server with hono/jsx. It holds no tenant data:
// the operator's token lives only in the browser (sessionStorage), so everything behind it is
// fetched by the page's script from the admin API. The markup is complete and labelled without
// the script, so assistive technology sees the same structure the script fills. Views: overview,
// one tenant, logs, limit events, workers; a new view is one link in Nav and one section here.
import type { FC } from 'hono/jsx';
import { BindingsCard } from './bindings-card';
import { NodesCard } from './nodes-card';

export interface PageProps {
  /** URL prefix of the dashboard's static files */
  assets: string;
  /** fingerprint appended to asset URLs so a new build is never served from a stale cache */
  version: string;
  title: string;
}

const Nav: FC = () => (
  <nav aria-label="Sections" id="nav" hidden>
    <a href="#/overview" data-view="overview">
      Overview
    </a>
    <a href="#/tenant" data-view="tenant">
      Tenants
    </a>
    <a href="#/logs" data-view="logs">
      Logs
    </a>
    <a href="#/limits" data-view="limits">
      Limit events <span id="limit-count" class="count"></span>
    </a>
    <a href="#/workers" data-view="workers">
      Workers
    </a>
  </nav>
);

const RangePicker: FC = () => (
  <fieldset class="range">
    <legend class="visually-hidden">Time range</legend>
    {['15m', '1h', '6h', '24h', '7d'].map((r) => (
      <button type="button" data-range={r} aria-pressed={r === '1h' ? 'true' : 'false'}>
        {r}
      </button>
    ))}
  </fieldset>
);

const SignIn: FC = () => (
  <section id="signin" class="card narrow" aria-labelledby="signin-title">
    <h2 id="signin-title">Sign in</h2>
    <p class="muted">
      Paste the operator token (<code>ISLET_ADMIN_TOKEN</code>, or the file <code>admin-token</code> in the data
      directory) or a tenant deploy token. It stays in this browser tab only.
    </p>
    <form id="signin-form" class="stack">
      <label for="token">Token</label>
      <input id="token" name="token" type="password" autocomplete="off" required />
      <button type="submit" class="primary">
        Sign in
      </button>
      <p id="signin-error" class="error" role="alert"></p>
    </form>
  </section>
);

const Overview: FC = () => (
  <section id="view-overview" data-view-panel="overview" hidden aria-labelledby="overview-title">
    <div class="view-head">
      <h2 id="overview-title">Overview</h2>
      <RangePicker />
    </div>
    <section class="stats" id="overview-stats" aria-label="Totals over the time range"></section>
    <div class="chart-grid">
      <figure class="card chart" id="overview-requests" aria-label="Requests by status"></figure>
      <figure class="card chart" id="overview-latency" aria-label="Latency"></figure>
    </div>
    <div class="card">
      <h3 id="tenants-title">Tenants</h3>
      <div class="table-wrap">
        <table id="tenants" class="stack-narrow">
          <caption class="visually-hidden">Tenants with their active deployment, routes and live numbers</caption>
          <thead>
            <tr>
              <th scope="col">Tenant</th>
              <th scope="col">Active deployment</th>
              <th scope="col">Routes</th>
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
      </div>
      <p id="tenants-empty" hidden>
        No tenant yet. Open <a href="#/tenant">Tenants</a> to deploy a first function.
      </p>
      <p class="note" id="metrics-note" aria-live="polite"></p>
    </div>
  </section>
);

const Deploy: FC = () => (
  <div class="card" id="deploy-card">
    <h3>Deploy</h3>
    <form id="upload-form">
      {/* biome-ignore lint/a11y/useSemanticElements: a keyboard-reachable drop target */}
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
          Message <input id="upload-message" name="message" placeholder="what changed" maxlength={2000} />
        </label>
        <label>
          Entry <input id="upload-entry" name="entry" placeholder="index.ts" />
        </label>
        <label>
          Routes <input id="upload-routes" name="routes" placeholder="shop.example.com/api*" />
        </label>
        <label class="check">
          <input id="upload-bundle" name="bundle" type="checkbox" /> bundle node_modules
        </label>
        <label class="check">
          <input id="upload-activate" name="activate" type="checkbox" checked /> activate
        </label>
        <button type="submit" id="upload-submit" class="primary" disabled>
          Upload
        </button>
      </div>
      <p id="upload-status" role="status"></p>
    </form>
  </div>
);

const LogSearch: FC<{ id: string; tenantPicker?: boolean }> = ({ id, tenantPicker }) => (
  <div class="log-search" id={id}>
    <form class="filters" data-log-filters>
      {tenantPicker ? (
        <label>
          Tenant <input name="tenant" list="tenant-names" required pattern="[a-z0-9][a-z0-9\-]*" />
        </label>
      ) : null}
      <label>
        Search <input name="q" type="search" placeholder="text, path, request id" />
      </label>
      <label>
        Level
        <select name="level">
          <option value="">any</option>
          <option value="info">info+</option>
          <option value="warn">warn+</option>
          <option value="error">error</option>
        </select>
      </label>
      <label>
        Status
        <select name="status">
          <option value="">any</option>
          <option value="ok">ok</option>
          <option value="error">error</option>
          <option value="4xx">4xx</option>
          <option value="5xx">5xx</option>
        </select>
      </label>
      <label>
        Method
        <select name="method">
          <option value="">any</option>
          <option>GET</option>
          <option>POST</option>
          <option>PUT</option>
          <option>PATCH</option>
          <option>DELETE</option>
        </select>
      </label>
      <label>
        Since
        <select name="since">
          <option value="">all kept</option>
          <option value="5m">5 min</option>
          <option value="15m">15 min</option>
          <option value="1h">1 hour</option>
          <option value="24h">24 hours</option>
        </select>
      </label>
      <button type="submit" class="primary">
        Search
      </button>
      <label class="check">
        <input name="follow" type="checkbox" /> follow
      </label>
    </form>
    <p class="note" data-log-summary aria-live="polite"></p>
    <div class="logs" role="log" aria-live="off" tabindex={0} data-log-box></div>
  </div>
);

const Tenant: FC = () => (
  <section id="view-tenant" data-view-panel="tenant" hidden aria-labelledby="tenant-title">
    <div class="view-head">
      <h2 id="tenant-title">Tenants</h2>
      <RangePicker />
    </div>
    <form id="tenant-pick" class="inline card">
      <label for="tenant-name">Tenant name</label>
      <input id="tenant-name" name="tenant" list="tenant-names" pattern="[a-z0-9][a-z0-9\-]*" maxlength={63} required />
      <datalist id="tenant-names"></datalist>
      <button type="submit">Open</button>
    </form>

    <div id="tenant-missing" class="card empty" hidden>
      <h3>
        No tenant named <code id="tenant-missing-name"></code>
      </h3>
      <p class="muted">
        It does not exist (or was deleted). Deploy a first version below to create it, or pick another tenant.
      </p>
    </div>

    <div id="tenant-body" hidden>
      <p id="tenant-url" class="muted"></p>
      <section class="stats" id="tenant-stats" aria-label="Totals of this tenant over the time range"></section>
      <div class="chart-grid">
        <figure class="card chart" id="tenant-requests" aria-label="Requests by status"></figure>
        <figure class="card chart" id="tenant-latency" aria-label="Latency"></figure>
        <figure class="card chart" id="tenant-cpu" aria-label="CPU time"></figure>
        <figure class="card chart" id="tenant-memory" aria-label="Memory"></figure>
      </div>
      <section class="charts" id="tenant-charts" aria-label="Live metrics of this tenant"></section>

      <div class="card">
        <h3>Deployments</h3>
        <div class="table-wrap">
          <table id="deployments" class="stack-narrow">
            <caption class="visually-hidden">Deployments of this tenant, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Deployment</th>
                <th scope="col">Message</th>
                <th scope="col">Created</th>
                <th scope="col">By</th>
                <th scope="col">Size</th>
                <th scope="col">Routes</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody></tbody>
          </table>
        </div>
        <div id="source-panel" hidden>
          <div class="panel-head">
            <h4 id="source-title">Source</h4>
            <button type="button" id="source-close">
              Close
            </button>
          </div>
          <div class="source">
            <ul id="source-files" aria-label="Files"></ul>
            <pre id="source-text" tabindex={0}></pre>
          </div>
        </div>
        <form id="diff-form" class="inline">
          <label>
            Compare <select id="diff-from" aria-label="From deployment"></select>
          </label>
          <label>
            with <select id="diff-to" aria-label="To deployment"></select>
          </label>
          <button type="submit">Show diff</button>
        </form>
        <div id="diff" aria-live="polite"></div>
      </div>
      <div class="card" id="profile-card">
        <h3>CPU profile</h3>
        <p class="note">
          Samples this tenant's isolates while they serve; frames point at the uploaded files. Send traffic while it
          records. The file opens in Chrome DevTools (Performance, Load profile).
        </p>
        <form id="profile-form" class="inline">
          <label>
            Seconds <input id="profile-seconds" type="number" min="0.1" max="600" step="0.1" value="5" />
          </label>
          <button type="submit" id="profile-start">
            Record profile
          </button>
          {/* biome-ignore lint/a11y/useValidAnchor: href set to the blob URL of a profile */}
          <a id="profile-download" hidden>
            Download .cpuprofile
          </a>
        </form>
        <p id="profile-status" class="muted" aria-live="polite"></p>
        <div id="profile-flame" class="flame" hidden></div>
      </div>
    </div>

    <Deploy />

    <div id="tenant-more" hidden>
      <div class="card">
        <h3>Environment</h3>
        <p class="note">
          Given to the function as <code>env</code>. A change is picked up by the next request (a new isolate starts).
          Secret values are never shown again.
        </p>
        <div class="table-wrap">
          <table id="env" class="stack-narrow">
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
        </div>
        <form id="env-form" class="fields">
          <label>
            Name <input id="env-name" required pattern="[A-Za-z_][A-Za-z0-9_]*" autocomplete="off" />
          </label>
          <label>
            Value <input id="env-value" autocomplete="off" />
          </label>
          <label class="check">
            <input id="env-secret" type="checkbox" /> secret
          </label>
          <button type="submit">Set</button>
        </form>
      </div>

      <BindingsCard />

      <div class="card">
        <h3>Logs</h3>
        <LogSearch id="tenant-logs" />
      </div>

      <div class="card danger-zone">
        <h3>Danger zone</h3>
        <p>
          <button type="button" id="tenant-delete" class="danger">
            Delete this tenant
          </button>{' '}
          with every deployment, its environment and its deploy tokens.
        </p>
      </div>
    </div>
  </section>
);

const Logs: FC = () => (
  <section id="view-logs" data-view-panel="logs" hidden aria-labelledby="logs-title">
    <div class="view-head">
      <h2 id="logs-title">Logs</h2>
    </div>
    <div class="card">
      <LogSearch id="all-logs" tenantPicker />
    </div>
  </section>
);

const Limits: FC = () => (
  <section id="view-limits" data-view-panel="limits" hidden aria-labelledby="limits-title">
    <div class="view-head">
      <h2 id="limits-title">Limit events</h2>
    </div>
    <div class="card">
      <p class="muted">
        Requests cut by a limit (CPU, wall time, memory, body size, subrequests, logs), as counted by the metrics.
      </p>
      <div class="table-wrap">
        <table id="limit-totals" class="stack-narrow">
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
      </div>
    </div>
    <div class="card">
      <h3>Recent cuts</h3>
      <div class="table-wrap">
        <table id="limit-recent" class="stack-narrow">
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
      </div>
      <h3>Seen while this page was open</h3>
      <ol id="limit-events" aria-live="polite"></ol>
    </div>
  </section>
);

const Workers: FC = () => (
  <section id="view-workers" data-view-panel="workers" hidden aria-labelledby="workers-title">
    <div class="view-head">
      <h2 id="workers-title">Workers</h2>
    </div>
    <div class="stats" id="workers-stats"></div>
    <div class="card">
      <div class="table-wrap">
        <table id="workers" class="stack-narrow">
          <caption class="visually-hidden">Serving processes</caption>
          <thead>
            <tr>
              <th scope="col">Slot</th>
              <th scope="col">PID</th>
              <th scope="col">State</th>
              <th scope="col">Uptime</th>
              <th scope="col">Restarts</th>
              <th scope="col">RSS</th>
              <th scope="col">Heap</th>
              <th scope="col">Isolates</th>
              <th scope="col">Connections</th>
            </tr>
          </thead>
          <tbody></tbody>
        </table>
      </div>
    </div>
    <NodesCard />
    <div class="card" id="quarantine" hidden>
      <h3>Quarantined tenants</h3>
      <ul id="quarantine-list"></ul>
    </div>
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
        <h1>
          <span class="logo" aria-hidden="true"></span>
          {title}
        </h1>
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
        <Logs />
        <Limits />
        <Workers />
      </main>
    </body>
  </html>
);
