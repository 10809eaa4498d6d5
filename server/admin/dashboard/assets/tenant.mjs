// The tenant view: live charts, deployments (activate, roll back, delete), env and secrets, the
// upload form, and the tenant's logs (logs.mjs).
import { ApiError, json, request, tenantPath } from './api.mjs';
import { format, sparkline } from './charts.mjs';
import { followLogs, loadLogs, stopLogs } from './logs.mjs';
import { $, describe, flash, h, loadTenants, state } from './page.mjs';
import { formData, guessEntry, prepare } from './upload.mjs';

export async function openTenant(name) {
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

export function renderTenantCharts() {
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
        sparkline(history ? history[key] : [], {
          width: 160,
          height: 36,
          label: `${label} of ${tenant}, latest ${fmt(now[key])}`,
        }),
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
          { scope: 'row' },
          h('code', { title: d.hash ? `hash ${d.hash}` : d.id }, d.id),
          active ? h('span', { class: 'badge' }, 'active') : null,
        ),
        h('td', {}, h('time', { datetime: d.createdAt }, new Date(d.createdAt).toLocaleString())),
        h('td', {}, d.entry ?? ''),
        h('td', { class: 'num' }, typeof d.size === 'number' ? format.bytes(d.size) : ''),
        h('td', {}, (d.routes ?? []).join(', ')),
        h(
          'td',
          {},
          (d.warnings ?? []).length ? h('ul', { class: 'warnings' }, ...d.warnings.map((w) => h('li', {}, w))) : '',
        ),
        h(
          'td',
          { class: 'actions' },
          active
            ? null
            : h('button', { type: 'button', onclick: () => activate(d.id), 'aria-label': `${verb} to ${d.id}` }, verb),
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
            h('th', { scope: 'row' }, h('code', {}, r.name)),
            h('td', {}, r.secret ? h('span', { class: 'muted' }, 'secret (hidden)') : h('code', {}, r.value)),
            h(
              'td',
              { class: 'actions' },
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
  $('#upload-submit').disabled = true;
  $('#upload-status').textContent = 'Uploading…';
  try {
    const result = await json(`${tenantPath(tenant)}/deployments`, { method: 'POST', body: form });
    const status = $('#upload-status');
    status.replaceChildren(
      `Deployed ${result.id}${result.active ? ' (active)' : ''}`,
      result.url
        ? h('span', {}, ' at ', h('a', { href: result.url, target: '_blank', rel: 'noopener' }, result.url))
        : '',
      (result.warnings ?? []).length
        ? h('ul', { class: 'warnings' }, ...result.warnings.map((w) => h('li', {}, w)))
        : '',
    );
    picked = [];
    $('#upload-list').replaceChildren();
    await Promise.all([loadDeployments(), loadTenants().catch(() => {})]);
  } catch (error) {
    $('#upload-status').textContent = `Upload failed: ${describe(error)}`;
    $('#upload-submit').disabled = false;
  }
}
