// The dashboard page's behaviour: sign-in, the three views (overview, one tenant, limit events),
// polling /metrics for the live charts. Every piece of server data goes into the page through
// textContent or attributes, never as markup.
import { ApiError, json, request, session, tenantPath, unauthorized } from './api.mjs';
import { format, sparkline } from './charts.mjs';
import { Stats } from './stats.mjs';
import { filesFromDrop, filesFromInput, formData, guessEntry, prepare } from './upload.mjs';

const POLL_MS = 2000;
const $ = (selector) => document.querySelector(selector);

/** Builds an element: h('a', { href }, 'text', child). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

const state = {
  tenants: [],
  tenantsAt: 0,
  tenant: null,
  stats: new Stats(),
  metricsOk: true,
  timer: null,
  logAbort: null,
};

function flash(message, kind = 'error') {
  const el = $('#flash');
  el.textContent = message;
  el.className = kind;
  el.hidden = !message;
}

function describe(error) {
  return error instanceof ApiError ? `${error.message} (${error.code})` : String(error && error.message ? error.message : error);
}

// ---------------------------------------------------------------- sign in / out

async function signIn(token) {
  session.token = token;
  try {
    await loadTenants();
  } catch (error) {
    // A tenant token may not list tenants: it is still a valid sign-in for its own tenant.
    if (!(error instanceof ApiError) || error.status !== 403) {
      session.token = null;
      throw error;
    }
  }
  showSignedIn(true);
  route();
  startPolling();
}

function signOut(message = '') {
  session.token = null;
  stopPolling();
  stopLogs();
  showSignedIn(false);
  $('#signin-error').textContent = message;
}

function showSignedIn(signedIn) {
  $('#signin').hidden = signedIn;
  $('#signout').hidden = !signedIn;
  document.querySelector('header nav').hidden = !signedIn;
  if (!signedIn) for (const panel of document.querySelectorAll('[data-view-panel]')) panel.hidden = true;
}

unauthorized.add(() => signOut('The token was refused: sign in again.'));

// ---------------------------------------------------------------- views

function route() {
  if (!session.token) return;
  const [, view = 'overview', name] = location.hash.split('/');
  // a message belongs to the view where it happened, unless it was left for the next view
  flash(...(state.nextFlash ?? ['']));
  state.nextFlash = null;
  for (const panel of document.querySelectorAll('[data-view-panel]')) panel.hidden = panel.dataset.viewPanel !== view;
  for (const link of document.querySelectorAll('nav a')) {
    if (link.dataset.view === view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (view === 'tenant') openTenant(name ? decodeURIComponent(name) : state.tenant);
  if (view === 'overview') {
    // just loaded (sign-in does it): draw at once instead of asking the API a second time
    const fresh = Date.now() - state.tenantsAt < 1000;
    (fresh ? Promise.resolve() : loadTenants()).then(renderTenants, tenantListRefused);
  }
  if (view === 'limits') {
    renderLimits();
    loadLimitDetails();
  }
}

// ---------------------------------------------------------------- overview

async function loadTenants() {
  const body = await json('/v1/tenants');
  state.tenants = body.tenants ?? [];
  state.tenantsAt = Date.now();
  const list = $('#tenant-names');
  list.replaceChildren(...state.tenants.map((t) => h('option', { value: t.name })));
  return state.tenants;
}

function liveCells(tenant) {
  const now = state.stats.latest(tenant);
  const history = state.stats.history.get(tenant);
  return [
    h('td', { class: 'num', dataset: { metric: 'rps' } }, format.rate(now.rps), history ? sparkline(history.rps, { width: 60, height: 18, label: `requests per second of ${tenant}` }) : null),
    h('td', { class: 'num', dataset: { metric: 'errors' } }, format.percent(now.errors)),
    h('td', { class: 'num', dataset: { metric: 'p50' } }, format.seconds(now.p50)),
    h('td', { class: 'num', dataset: { metric: 'p99' } }, format.seconds(now.p99)),
    h('td', { class: 'num', dataset: { metric: 'cpu' } }, format.cpu(now.cpu)),
    h('td', { class: 'num', dataset: { metric: 'memory' } }, format.bytes(now.memory)),
  ];
}

function renderTenants() {
  const body = $('#tenants tbody');
  body.replaceChildren(
    ...state.tenants.map((t) =>
      h(
        'tr',
        { dataset: { tenant: t.name } },
        h('th', { scope: 'row' }, h('a', { href: `#/tenant/${encodeURIComponent(t.name)}` }, t.name)),
        h('td', {}, t.active ? h('code', { title: t.active }, short(t.active)) : h('span', { class: 'muted' }, 'none')),
        h('td', {}, (t.routes ?? []).length ? (t.routes ?? []).join(', ') : h('span', { class: 'muted' }, '—')),
        h('td', {}, t.url ? h('a', { href: t.url, target: '_blank', rel: 'noopener' }, t.url) : '—'),
        ...liveCells(t.name),
      ),
    ),
  );
  $('#tenants-empty').hidden = state.tenants.length > 0;
  $('#tenants').hidden = state.tenants.length === 0;
}

/** A tenant deploy token may not list tenants: say what it can do instead of showing an error. */
function tenantListRefused(error) {
  if (!(error instanceof ApiError) || error.status !== 403) return flash(describe(error));
  $('#tenants').hidden = true;
  const note = $('#tenants-empty');
  note.hidden = false;
  note.textContent = 'This token belongs to one tenant: it cannot list the others. Open your tenant by name under Tenant.';
}

const short = (id) => (id.length > 14 ? id.slice(0, 14) + '…' : id);

// ---------------------------------------------------------------- one tenant

async function openTenant(name) {
  stopLogs();
  $('#tenant-name').value = name ?? '';
  $('#tenant-body').hidden = !name;
  state.tenant = name || null;
  if (!name) {
    $('#tenant-title').textContent = 'Tenant';
    return;
  }
  $('#tenant-title').textContent = `Tenant ${name}`;
  // nothing of the previously opened tenant may stay on screen under this one's name
  $('#deployments tbody').replaceChildren();
  $('#logs').replaceChildren();
  $('#upload-status').textContent = '';
  $('#env tbody').replaceChildren();
  $('#env-form').reset();
  setPicked([]);
  $('#upload-entry').value = '';
  $('#upload-entry').placeholder = 'index.ts';
  renderTenantCharts();
  await Promise.all([loadDeployments(), loadLogs(), loadEnv()]);
  if ($('#logs-follow').checked) followLogs();
}

const CHARTS = [
  ['rps', 'Requests/s', format.rate],
  ['errors', 'Error rate', format.percent],
  ['p50', 'p50 latency', format.seconds],
  ['p99', 'p99 latency', format.seconds],
  ['cpu', 'CPU time', format.cpu],
  ['memory', 'Memory', format.bytes],
];

function renderTenantCharts() {
  const tenant = state.tenant;
  if (!tenant) return;
  const history = state.stats.history.get(tenant);
  const now = state.stats.latest(tenant);
  $('#tenant-charts').replaceChildren(
    ...CHARTS.map(([key, label, fmt]) =>
      h(
        'figure',
        { class: 'card', dataset: { metric: key } },
        h('figcaption', {}, label),
        h('output', { class: 'value' }, fmt(now[key])),
        sparkline(history ? history[key] : [], { width: 160, height: 36, label: `${label} of ${tenant}, latest ${fmt(now[key])}` }),
      ),
    ),
  );
}

async function loadDeployments() {
  const tenant = state.tenant;
  let body;
  try {
    body = await json(`${tenantPath(tenant)}/deployments`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) body = { active: null, deployments: [] };
    else {
      if (tenant === state.tenant) $('#deployments tbody').replaceChildren();
      return flash(describe(error));
    }
  }
  if (tenant !== state.tenant) return;
  const deployments = [...(body.deployments ?? [])].sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)));
  const activeIndex = deployments.findIndex((d) => d.id === body.active);
  $('#deployments tbody').replaceChildren(
    ...deployments.map((d, i) => {
      const active = d.id === body.active;
      const verb = activeIndex >= 0 && i > activeIndex ? 'Roll back' : 'Activate';
      return h(
        'tr',
        { dataset: { deployment: d.id }, class: active ? 'active' : '' },
        h('th', { scope: 'row' }, h('code', { title: d.hash ? `hash ${d.hash}` : d.id }, d.id), active ? h('span', { class: 'badge' }, 'active') : null),
        h('td', {}, h('time', { datetime: d.createdAt }, new Date(d.createdAt).toLocaleString())),
        h('td', {}, d.entry ?? ''),
        h('td', { class: 'num' }, typeof d.size === 'number' ? format.bytes(d.size) : ''),
        h('td', {}, (d.routes ?? []).join(', ')),
        h('td', {}, (d.warnings ?? []).length ? h('ul', { class: 'warnings' }, ...d.warnings.map((w) => h('li', {}, w))) : ''),
        h(
          'td',
          { class: 'actions' },
          active ? null : h('button', { type: 'button', onclick: () => activate(d.id), 'aria-label': `${verb} to ${d.id}` }, verb),
          h('button', { type: 'button', class: 'danger', disabled: active, onclick: () => removeDeployment(d.id), 'aria-label': `Delete ${d.id}` }, 'Delete'),
        ),
      );
    }),
  );
}

async function activate(id) {
  try {
    await json(`${tenantPath(state.tenant)}/deployments/${encodeURIComponent(id)}/activate`, { method: 'POST' });
    flash(`Deployment ${id} is now active.`, 'ok');
  } catch (error) {
    flash(describe(error));
  }
  await loadDeployments();
}

async function removeDeployment(id) {
  if (!confirm(`Delete deployment ${id} of ${state.tenant}? This cannot be undone.`)) return;
  try {
    await request(`${tenantPath(state.tenant)}/deployments/${encodeURIComponent(id)}`, { method: 'DELETE' });
    flash(`Deployment ${id} deleted.`, 'ok');
  } catch (error) {
    flash(describe(error));
  }
  await loadDeployments();
}

async function deleteTenant() {
  const tenant = state.tenant;
  if (!tenant || !confirm(`Delete tenant ${tenant} with all its deployments, env and tokens? This cannot be undone.`)) return;
  try {
    await request(tenantPath(tenant), { method: 'DELETE' });
    state.nextFlash = [`Tenant ${tenant} deleted.`, 'ok'];
    location.hash = '#/overview';
  } catch (error) {
    flash(describe(error));
  }
}

// ---------------------------------------------------------------- environment

function renderEnv(env) {
  const rows = [
    ...Object.entries(env.vars ?? {}).map(([name, value]) => ({ name, value, secret: false })),
    ...(env.secrets ?? []).map((name) => ({ name, value: null, secret: true })),
  ].sort((a, b) => a.name.localeCompare(b.name));
  $('#env tbody').replaceChildren(
    ...(rows.length
      ? rows.map((r) =>
          h(
            'tr',
            { dataset: { name: r.name } },
            h('th', { scope: 'row' }, h('code', {}, r.name)),
            h('td', {}, r.secret ? h('span', { class: 'muted' }, 'secret (hidden)') : h('code', {}, r.value)),
            h('td', { class: 'actions' }, h('button', { type: 'button', class: 'danger', onclick: () => setEnv(r.name, null, r.secret), 'aria-label': `Remove ${r.name}` }, 'Remove')),
          ),
        )
      : [h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'No variables or secrets.'))]),
  );
}

async function loadEnv() {
  const tenant = state.tenant;
  try {
    const env = await json(`${tenantPath(tenant)}/env`);
    if (tenant === state.tenant) renderEnv(env);
  } catch (error) {
    if (tenant === state.tenant) renderEnv({});
    if (!(error instanceof ApiError) || error.status !== 404) flash(describe(error));
  }
}

/** Sets (or, with value null, removes) one var or secret. */
async function setEnv(name, value, secret) {
  try {
    const env = await json(`${tenantPath(state.tenant)}/env`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ [secret ? 'secrets' : 'vars']: { [name]: value } }),
    });
    renderEnv(env);
    flash(value === null ? `${name} removed.` : `${name} set.`, 'ok');
  } catch (error) {
    flash(describe(error));
  }
}

// ---------------------------------------------------------------- upload

let picked = [];

function setPicked(files) {
  picked = prepare(files, { keepNodeModules: $('#upload-bundle').checked });
  $('#upload-list').replaceChildren(...picked.map((f) => h('li', {}, h('code', {}, f.path), ` ${format.bytes(f.file.size)}`)));
  if (!$('#upload-entry').value) $('#upload-entry').placeholder = guessEntry(picked) || 'index.ts';
  $('#upload-submit').disabled = picked.length === 0;
  $('#upload-status').textContent = picked.length ? `${picked.length} file(s) ready.` : '';
}

async function upload(event) {
  event.preventDefault();
  const tenant = state.tenant;
  if (!tenant || picked.length === 0) return;
  const entry = $('#upload-entry').value.trim() || guessEntry(picked);
  const routes = $('#upload-routes').value.split(',').map((r) => r.trim()).filter(Boolean);
  const form = formData(picked, { entry, routes, bundle: $('#upload-bundle').checked, activate: $('#upload-activate').checked });
  $('#upload-submit').disabled = true;
  $('#upload-status').textContent = 'Uploading…';
  try {
    const result = await json(`${tenantPath(tenant)}/deployments`, { method: 'POST', body: form });
    const status = $('#upload-status');
    status.replaceChildren(
      `Deployed ${result.id}${result.active ? ' (active)' : ''}`,
      result.url ? h('span', {}, ' at ', h('a', { href: result.url, target: '_blank', rel: 'noopener' }, result.url)) : '',
      (result.warnings ?? []).length ? h('ul', { class: 'warnings' }, ...result.warnings.map((w) => h('li', {}, w))) : '',
    );
    picked = [];
    $('#upload-list').replaceChildren();
    await Promise.all([loadDeployments(), loadTenants().catch(() => {})]);
  } catch (error) {
    $('#upload-status').textContent = `Upload failed: ${describe(error)}`;
    $('#upload-submit').disabled = false;
  }
}

// ---------------------------------------------------------------- logs

/** What a log record says, in one line: console text, a request summary or a limit cut. */
function logText(record) {
  if (record.source === 'request') {
    return `${record.method} ${record.path} → ${record.status} in ${record.wallMs} ms (cpu ${record.cpuMs} ms${record.cold ? ', cold start' : ''})`;
  }
  if (record.source === 'limit') return `${record.limit} limit exceeded: ${record.measured} ${record.unit ?? ''}`.trim();
  return String(record.message ?? record.msg ?? JSON.stringify(record));
}

function logLine(record) {
  const level = record.consoleLevel ?? (record.source === 'request' ? 'req' : record.source === 'limit' ? 'limit' : record.level) ?? '';
  return h(
    'div',
    { class: `log ${record.level ?? ''} ${record.source ?? ''}` },
    h('time', {}, record.time ? new Date(record.time).toLocaleTimeString() : ''),
    h('span', { class: 'level' }, level),
    h('span', { class: 'message' }, logText(record)),
    record.requestId ? h('code', { class: 'rid' }, record.requestId) : null,
    record.stack ? h('pre', {}, String(record.stack)) : null,
  );
}

function parseNdjson(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      out.push({ message: line });
    }
  }
  return out;
}

async function loadLogs() {
  const tenant = state.tenant;
  const box = $('#logs');
  try {
    const text = await (await request(`${tenantPath(tenant)}/logs?limit=200`)).text();
    if (tenant !== state.tenant) return;
    const records = parseNdjson(text);
    box.replaceChildren(...(records.length ? records.map(logLine) : [h('p', { class: 'muted' }, 'No logs yet.')]));
    box.scrollTop = box.scrollHeight;
  } catch (error) {
    box.replaceChildren(h('p', { class: 'muted' }, `Logs unavailable: ${describe(error)}`));
  }
}

async function followLogs() {
  stopLogs();
  const tenant = state.tenant;
  const abort = new AbortController();
  state.logAbort = abort;
  try {
    const response = await request(`${tenantPath(tenant)}/logs?follow=1&limit=0`, { signal: abort.signal });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    const box = $('#logs');
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      const cut = buffered.lastIndexOf('\n');
      if (cut < 0) continue;
      const records = parseNdjson(buffered.slice(0, cut));
      buffered = buffered.slice(cut + 1);
      box.querySelector('p.muted')?.remove();
      box.append(...records.map(logLine));
      while (box.childElementCount > 500) box.firstElementChild.remove();
      box.scrollTop = box.scrollHeight;
    }
  } catch (error) {
    if (!abort.signal.aborted) flash(`Log stream ended: ${describe(error)}`);
  }
}

function stopLogs() {
  state.logAbort?.abort();
  state.logAbort = null;
}

// ---------------------------------------------------------------- limit events

/** The limit lines of the tenants' logs (measured value, request id, stack), newest first. */
async function loadLimitDetails() {
  const tenants = new Set([...state.stats.limitTotals.keys()].map((key) => key.split('\u0000')[0]));
  const found = [];
  await Promise.all(
    [...tenants].map(async (tenant) => {
      try {
        const text = await (await request(`${tenantPath(tenant)}/logs?limit=500`)).text();
        for (const record of parseNdjson(text)) if (record.source === 'limit') found.push(record);
      } catch {
        // a tenant deleted meanwhile, or a token that cannot read it: its totals still show
      }
    }),
  );
  found.sort((a, b) => String(b.time).localeCompare(String(a.time)));
  state.limitDetails = found.slice(0, 100);
  renderLimits();
}

function renderLimits() {
  const totals = [...state.stats.limitTotals].sort(([a], [b]) => a.localeCompare(b));
  $('#limit-totals tbody').replaceChildren(
    ...(totals.length
      ? totals.map(([key, count]) => {
          const [tenant, limit] = key.split('\u0000');
          return h('tr', {}, h('td', {}, tenant), h('td', {}, limit), h('td', { class: 'num' }, String(count)));
        })
      : [h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'No request has hit a limit.'))]),
  );
  const details = state.limitDetails ?? [];
  $('#limit-recent tbody').replaceChildren(
    ...(details.length
      ? details.map((r) =>
          h(
            'tr',
            { dataset: { tenant: r.tenant, limit: r.limit } },
            h('td', {}, h('time', { datetime: r.time }, new Date(r.time).toLocaleTimeString())),
            h('td', {}, h('a', { href: `#/tenant/${encodeURIComponent(r.tenant)}` }, r.tenant)),
            h('td', {}, r.limit),
            h('td', { class: 'num' }, `${r.measured} ${r.unit ?? ''}`.trim()),
            h('td', {}, r.requestId ? h('code', {}, r.requestId) : ''),
            h('td', {}, r.stack ? h('details', {}, h('summary', {}, firstFrame(r.stack)), h('pre', {}, r.stack)) : h('span', { class: 'muted' }, '—')),
          ),
        )
      : [h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No cut in the recent logs.'))]),
  );
  $('#limit-events').replaceChildren(
    ...[...state.stats.limitEvents].reverse().map((e) =>
      h('li', { dataset: { tenant: e.tenant, limit: e.limit } }, h('time', {}, new Date(e.time).toLocaleTimeString()), ` ${e.tenant}: ${e.limit} limit`, e.count > 1 ? ` ×${e.count}` : ''),
    ),
  );
}

/** The first stack frame that names a place, shown before the whole stack is opened. */
function firstFrame(stack) {
  const frame = String(stack).split('\n').find((line) => /^\s*at /.test(line));
  return frame ? frame.trim() : 'stack';
}

// ---------------------------------------------------------------- polling

async function poll() {
  let freshEvents = false;
  try {
    const text = await (await request('/metrics')).text();
    const events = state.stats.update(text, Date.now());
    freshEvents = events.length > 0;
    state.metricsOk = true;
    $('#metrics-note').textContent = '';
    const count = state.stats.limitEvents.length;
    $('#limit-count').textContent = count ? String(count) : '';
    if (events.length) {
      const last = events[events.length - 1];
      flash(`Limit event: ${last.tenant} hit its ${last.limit} limit.`, 'warn');
    }
  } catch (error) {
    if (!state.metricsOk) return;
    state.metricsOk = false;
    $('#metrics-note').textContent =
      error instanceof ApiError && error.status === 403 ? 'Live metrics need the operator token.' : `Live metrics unavailable: ${describe(error)}`;
  }
  const view = location.hash.split('/')[1] || 'overview';
  if (view === 'overview') {
    try {
      await loadTenants();
      renderTenants();
    } catch {
      // keep the last list (or the tenant-token note); a transient error shows again on the next poll
    }
  } else if (view === 'tenant') {
    renderTenantCharts();
  } else if (view === 'limits') {
    renderLimits();
    if (freshEvents) loadLimitDetails();
  }
}

function startPolling() {
  stopPolling();
  poll();
  state.timer = setInterval(poll, POLL_MS);
}

function stopPolling() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

// ---------------------------------------------------------------- wiring

function wire() {
  $('#signin-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = $('#token').value.trim();
    $('#signin-error').textContent = '';
    try {
      await signIn(token);
      $('#token').value = '';
    } catch (error) {
      $('#signin-error').textContent = `Sign-in failed: ${describe(error)}`;
    }
  });
  $('#signout').addEventListener('click', () => signOut());
  $('#tenant-pick').addEventListener('submit', (event) => {
    event.preventDefault();
    const name = $('#tenant-name').value.trim();
    if (name) location.hash = `#/tenant/${encodeURIComponent(name)}`;
  });
  window.addEventListener('hashchange', route);

  const zone = $('#dropzone');
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  // the drop zone is focusable: Enter or Space opens the file picker, for keyboard users
  zone.addEventListener('keydown', (event) => {
    if (event.target !== zone || (event.key !== 'Enter' && event.key !== ' ')) return;
    event.preventDefault();
    $('#upload-files').click();
  });
  zone.addEventListener('drop', async (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    setPicked(await filesFromDrop(event.dataTransfer));
  });
  $('#upload-files').addEventListener('change', (event) => setPicked(filesFromInput(event.target)));
  $('#upload-folder').addEventListener('change', (event) => setPicked(filesFromInput(event.target)));
  $('#upload-form').addEventListener('submit', upload);
  $('#tenant-delete').addEventListener('click', deleteTenant);
  $('#env-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    await setEnv($('#env-name').value.trim(), $('#env-value').value, $('#env-secret').checked);
    $('#env-name').value = '';
    $('#env-value').value = '';
  });
  $('#logs-refresh').addEventListener('click', loadLogs);
  $('#logs-follow').addEventListener('change', (event) => (event.target.checked ? followLogs() : stopLogs()));
}

wire();
if (session.token) {
  signIn(session.token).catch((error) => signOut(`Sign-in failed: ${describe(error)}`));
} else {
  showSignedIn(false);
}
