// The tenant view: totals and charts over the time range, live cards, deployments (message,
// author, source, diff, roll back with confirmation, delete), the upload form, env and secrets,
// log search. A tenant that does not exist gets a not-found view with only the deploy form (a
// first deployment creates it).
import { ApiError, json, request, tenantPath } from './api.mjs';
import { loadBindings } from './bindings.mjs';
import { format, sparkline } from './charts.mjs';
import { loadHistory, renderCharts, renderStats, seriesOf } from './history.mjs';
import { logSearch } from './logs.mjs';
import { $, describe, flash, h, loadTenants, state } from './page.mjs';
import { clearProfile } from './profile.mjs';
import { showDiff, showSource } from './source.mjs';
import { formData, guessEntry, prepare } from './upload.mjs';

let search = null;

function show({ missing = false, body = false }) {
  $('#tenant-missing').hidden = !missing;
  $('#tenant-body').hidden = !body;
  $('#tenant-more').hidden = !body;
  $('#deploy-card').hidden = !(missing || body);
}

export async function openTenant(name) {
  search ??= logSearch($('#tenant-logs'), () => state.tenant);
  search.stop();
  $('#tenant-name').value = name ?? '';
  state.tenant = name || null;
  // nothing of the previously opened tenant may stay on screen under this one's name
  $('#deployments tbody').replaceChildren();
  $('#diff').replaceChildren();
  $('#source-panel').hidden = true;
  clearProfile();
  search.clear();
  $('#upload-status').textContent = '';
  $('#env tbody').replaceChildren();
  $('#env-form').reset();
  setPicked([]);
  $('#upload-entry').value = '';
  $('#upload-message').value = '';
  $('#upload-entry').placeholder = 'index.ts';
  if (!name) {
    $('#tenant-title').textContent = 'Tenants';
    show({});
    return;
  }
  $('#tenant-title').textContent = name;
  let tenant;
  try {
    tenant = await json(tenantPath(name));
  } catch (error) {
    if (name !== state.tenant) return;
    if (error instanceof ApiError && error.status === 404) {
      $('#tenant-missing-name').textContent = name;
      show({ missing: true });
      return;
    }
    show({});
    return flash(describe(error));
  }
  if (name !== state.tenant) return;
  show({ body: true });
  $('#tenant-url').replaceChildren(
    h('a', { href: tenant.url, target: '_blank', rel: 'noopener' }, tenant.url),
    tenant.routes?.length ? ` · routes ${tenant.routes.join(', ')}` : '',
  );
  renderTenantCharts();
  await Promise.all([loadDeployments(), search.load(), loadEnv(), loadBindings(), renderTenantHistory()]);
}

export async function renderTenantHistory() {
  const tenant = state.tenant;
  if (!tenant || $('#tenant-body').hidden) return;
  try {
    const answer = await loadHistory(tenant);
    if (tenant !== state.tenant) return;
    const series = seriesOf(answer, tenant);
    renderStats('#tenant-stats', series, answer);
    renderCharts(
      { requests: '#tenant-requests', latency: '#tenant-latency', cpu: '#tenant-cpu', memory: '#tenant-memory' },
      series,
      answer,
    );
  } catch (error) {
    $('#tenant-stats').replaceChildren(h('p', { class: 'note' }, `History unavailable: ${describe(error)}`));
  }
}

const CARDS = [
  ['rps', 'Requests/s now', format.rate],
  ['errors', 'Error rate now', format.percent],
  ['p50', 'p50 now', format.seconds],
  ['p99', 'p99 now', format.seconds],
  ['cpu', 'CPU now', format.cpu],
  ['memory', 'Memory now', format.bytes],
];

/** the live cards, from the 2-second /metrics polls */
export function renderTenantCharts() {
  const tenant = state.tenant;
  if (!tenant) return;
  const history = state.stats.history.get(tenant);
  const now = state.stats.latest(tenant);
  $('#tenant-charts').replaceChildren(
    ...CARDS.map(([key, label, fmt]) =>
      h(
        'figure',
        { class: 'live', dataset: { metric: key } },
        h('figcaption', {}, label),
        h('output', { class: 'value' }, fmt(now[key])),
        sparkline(history ? history[key] : [], {
          width: 160,
          height: 32,
          label: `${label} of ${tenant}, latest ${fmt(now[key])}`,
        }),
      ),
    ),
  );
}

const short = (id) => (id.length > 14 ? `${id.slice(0, 14)}…` : id);

async function loadDeployments() {
  const tenant = state.tenant;
  let body;
  try {
    body = await json(`${tenantPath(tenant)}/deployments`);
  } catch (error) {
    if (tenant === state.tenant) $('#deployments tbody').replaceChildren();
    if (error instanceof ApiError && error.status === 404) return;
    return flash(describe(error));
  }
  if (tenant !== state.tenant) return;
  const deployments = [...(body.deployments ?? [])].sort((a, b) =>
    String(b.createdAt).localeCompare(String(a.createdAt)),
  );
  const activeIndex = deployments.findIndex((d) => d.id === body.active);
  $('#deployments tbody').replaceChildren(
    ...deployments.map((d, i) => {
      const active = d.id === body.active;
      const verb = activeIndex >= 0 && i > activeIndex ? 'Roll back' : 'Activate';
      return h(
        'tr',
        { dataset: { deployment: d.id }, class: active ? 'active' : '' },
        h(
          'th',
          { scope: 'row', 'data-label': 'Deployment' },
          h('code', { title: d.hash ? `hash ${d.hash}` : d.id }, short(d.id)),
          active ? h('span', { class: 'badge' }, 'active') : null,
        ),
        h(
          'td',
          { 'data-label': 'Message', class: 'message' },
          d.message ? d.message : h('span', { class: 'muted' }, '—'),
        ),
        h(
          'td',
          { 'data-label': 'Created' },
          h('time', { datetime: d.createdAt }, new Date(d.createdAt).toLocaleString()),
        ),
        h('td', { 'data-label': 'By' }, d.author ?? h('span', { class: 'muted' }, '—')),
        h('td', { 'data-label': 'Size', class: 'num' }, typeof d.size === 'number' ? format.bytes(d.size) : ''),
        h('td', { 'data-label': 'Routes' }, (d.routes ?? []).join(', ') || h('span', { class: 'muted' }, '—')),
        h(
          'td',
          { class: 'actions', 'data-label': 'Actions' },
          h(
            'button',
            { type: 'button', onclick: () => showSource(tenant, d.id), 'aria-label': `Source of ${d.id}` },
            'Source',
          ),
          active
            ? null
            : h(
                'button',
                { type: 'button', onclick: () => activate(d.id, verb), 'aria-label': `${verb} to ${d.id}` },
                verb,
              ),
          h(
            'button',
            {
              type: 'button',
              class: 'danger',
              disabled: active,
              onclick: () => removeDeployment(d.id),
              'aria-label': `Delete ${d.id}`,
            },
            'Delete',
          ),
        ),
      );
    }),
  );
  // the diff picker: by default what changed from the previous deployment to the active one
  const options = () =>
    deployments.map((d) =>
      h(
        'option',
        { value: d.id },
        `${short(d.id)}${d.message ? ` · ${d.message.slice(0, 40)}` : ''}${d.id === body.active ? ' (active)' : ''}`,
      ),
    );
  $('#diff-from').replaceChildren(...options());
  $('#diff-to').replaceChildren(...options());
  $('#diff-form').hidden = deployments.length < 2;
  if (deployments.length >= 2) {
    const to = Math.max(activeIndex, 0);
    $('#diff-to').value = deployments[to].id;
    $('#diff-from').value = deployments[Math.min(deployments.length - 1, to + 1)].id;
  }
}

export function diffSubmitted(event) {
  event.preventDefault();
  showDiff(state.tenant, $('#diff-from').value, $('#diff-to').value);
}

async function activate(id, verb) {
  const question =
    verb === 'Roll back'
      ? `Roll ${state.tenant} back to deployment ${id}? Requests are served by it from now on.`
      : `Make deployment ${id} of ${state.tenant} active? Requests are served by it from now on.`;
  if (!confirm(question)) return;
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

export async function deleteTenant() {
  const tenant = state.tenant;
  if (!tenant || !confirm(`Delete tenant ${tenant} with all its deployments, env and tokens? This cannot be undone.`))
    return;
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
            h('th', { scope: 'row', 'data-label': 'Name' }, h('code', {}, r.name)),
            h(
              'td',
              { 'data-label': 'Value' },
              r.secret ? h('span', { class: 'muted' }, 'secret (hidden)') : h('code', {}, r.value),
            ),
            h(
              'td',
              { class: 'actions', 'data-label': 'Actions' },
              h(
                'button',
                {
                  type: 'button',
                  class: 'danger',
                  onclick: () => setEnv(r.name, null, r.secret),
                  'aria-label': `Remove ${r.name}`,
                },
                'Remove',
              ),
            ),
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
export async function setEnv(name, value, secret) {
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

export function setPicked(files) {
  picked = prepare(files, { keepNodeModules: $('#upload-bundle').checked });
  $('#upload-list').replaceChildren(
    ...picked.map((f) => h('li', {}, h('code', {}, f.path), ` ${format.bytes(f.file.size)}`)),
  );
  if (!$('#upload-entry').value) $('#upload-entry').placeholder = guessEntry(picked) || 'index.ts';
  $('#upload-submit').disabled = picked.length === 0;
  $('#upload-status').textContent = picked.length ? `${picked.length} file(s) ready.` : '';
}

export async function upload(event) {
  event.preventDefault();
  const tenant = state.tenant;
  if (!tenant || picked.length === 0) return;
  const entry = $('#upload-entry').value.trim() || guessEntry(picked);
  const routes = $('#upload-routes')
    .value.split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const form = formData(picked, {
    entry,
    routes,
    bundle: $('#upload-bundle').checked,
    activate: $('#upload-activate').checked,
  });
  const message = $('#upload-message').value.trim();
  if (message) form.append('message', message);
  $('#upload-submit').disabled = true;
  $('#upload-status').textContent = 'Uploading…';
  try {
    const result = await json(`${tenantPath(tenant)}/deployments`, { method: 'POST', body: form });
    picked = [];
    $('#upload-list').replaceChildren();
    $('#upload-message').value = '';
    await Promise.all([openTenant(tenant), loadTenants().catch(() => {})]);
    $('#upload-status').replaceChildren(
      `Deployed ${result.id}${result.active ? ' (active)' : ''}`,
      result.url
        ? h('span', {}, ' at ', h('a', { href: result.url, target: '_blank', rel: 'noopener' }, result.url))
        : '',
      (result.warnings ?? []).length
        ? h('ul', { class: 'warnings' }, ...result.warnings.map((w) => h('li', {}, w)))
        : '',
    );
  } catch (error) {
    $('#upload-status').textContent = `Upload failed: ${describe(error)}`;
    $('#upload-submit').disabled = false;
  }
}
