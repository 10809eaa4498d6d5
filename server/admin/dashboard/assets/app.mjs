// The dashboard page's behaviour: sign-in, routing between the views (overview here; one tenant
// in tenant.mjs; logs in logs.mjs; limit events in limits.mjs; workers in workers.mjs), the time
// range, polling /metrics for live numbers and /v1/history for the charts, and wiring the controls.
import { ApiError, request, session, unauthorized } from './api.mjs';
import { format, sparkline } from './charts.mjs';
import { currentRange, loadHistory, renderCharts, renderStats, seriesOf, setRange } from './history.mjs';
import { loadLimitDetails, renderLimits } from './limits.mjs';
import { logSearch } from './logs.mjs';
import { $, describe, flash, h, loadTenants, state } from './page.mjs';
import {
  deleteTenant,
  diffSubmitted,
  openTenant,
  renderTenantCharts,
  renderTenantHistory,
  setEnv,
  setPicked,
  upload,
} from './tenant.mjs';
import { filesFromDrop, filesFromInput } from './upload.mjs';
import { recordProfile } from './profile.mjs';
import { loadWorkers } from './workers.mjs';

const POLL_MS = 2000;
const HISTORY_MS = 30_000;
let allLogs = null;

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
  allLogs?.stop();
  showSignedIn(false);
  $('#signin-error').textContent = message;
}

function showSignedIn(signedIn) {
  $('#signin').hidden = signedIn;
  $('#signout').hidden = !signedIn;
  $('#nav').hidden = !signedIn;
  if (!signedIn) for (const panel of document.querySelectorAll('[data-view-panel]')) panel.hidden = true;
}

unauthorized.add(() => signOut('The token was refused: sign in again.'));

// ---------------------------------------------------------------- views

const currentView = () => location.hash.split('/')[1] || 'overview';

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
  if (view !== 'logs') allLogs?.stop();
  if (view === 'tenant') openTenant(name ? decodeURIComponent(name) : state.tenant);
  if (view === 'overview') {
    // just loaded (sign-in does it): draw at once instead of asking the API a second time
    const fresh = Date.now() - state.tenantsAt < 1000;
    (fresh ? Promise.resolve() : loadTenants()).then(renderTenants, tenantListRefused);
    renderOverviewHistory();
  }
  if (view === 'logs') {
    allLogs ??= logSearch($('#all-logs'), () => '');
    const field = $('#all-logs [name=tenant]');
    if (name) field.value = decodeURIComponent(name);
    else if (!field.value && state.tenants.length) field.value = state.tenants[0].name;
    allLogs.load();
  }
  if (view === 'limits') {
    renderLimits();
    loadLimitDetails();
  }
  if (view === 'workers') loadWorkers();
}

// ---------------------------------------------------------------- overview

async function renderOverviewHistory() {
  try {
    const answer = await loadHistory();
    state.history = answer;
    const all = seriesOf(answer, '_all');
    renderStats('#overview-stats', all, answer);
    renderCharts({ requests: '#overview-requests', latency: '#overview-latency' }, all, answer);
    if (currentView() === 'overview') renderTenants();
  } catch (error) {
    const note =
      error instanceof ApiError && error.status === 403
        ? 'The history of every tenant needs the operator token.'
        : `History unavailable: ${describe(error)}`;
    $('#overview-stats').replaceChildren(h('p', { class: 'note' }, note));
  }
}

function liveCells(tenant) {
  const now = state.stats.latest(tenant);
  const history = state.stats.history.get(tenant);
  const cell = (metric, label, text, extra) =>
    h('td', { class: 'num', 'data-label': label, dataset: { metric } }, text, extra);
  return [
    cell(
      'rps',
      'Requests/s',
      format.rate(now.rps),
      history ? sparkline(history.rps, { width: 60, height: 18, label: `requests per second of ${tenant}` }) : null,
    ),
    cell('errors', 'Errors', format.percent(now.errors)),
    cell('p50', 'p50', format.seconds(now.p50)),
    cell('p99', 'p99', format.seconds(now.p99)),
    cell('cpu', 'CPU', format.cpu(now.cpu)),
    cell('memory', 'Memory', format.bytes(now.memory)),
  ];
}

const short = (id) => (id.length > 14 ? `${id.slice(0, 14)}…` : id);

function renderTenants() {
  const body = $('#tenants tbody');
  body.replaceChildren(
    ...state.tenants.map((t) =>
      h(
        'tr',
        { dataset: { tenant: t.name } },
        h(
          'th',
          { scope: 'row', 'data-label': 'Tenant' },
          h('a', { href: `#/tenant/${encodeURIComponent(t.name)}` }, t.name),
          t.url ? h('a', { href: t.url, target: '_blank', rel: 'noopener', class: 'url' }, t.url) : null,
        ),
        h(
          'td',
          { 'data-label': 'Active' },
          t.active ? h('code', { title: t.active }, short(t.active)) : h('span', { class: 'muted' }, 'none'),
        ),
        h(
          'td',
          { 'data-label': 'Routes' },
          (t.routes ?? []).length ? (t.routes ?? []).join(', ') : h('span', { class: 'muted' }, '—'),
        ),
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
  note.textContent =
    'This token belongs to one tenant: it cannot list the others. Open your tenant by name under Tenants.';
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
      error instanceof ApiError && error.status === 403
        ? 'Live metrics need the operator token.'
        : `Live metrics unavailable: ${describe(error)}`;
  }
  const view = currentView();
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
  if (Date.now() - state.historyAt > HISTORY_MS) {
    state.historyAt = Date.now();
    if (view === 'overview') renderOverviewHistory();
    if (view === 'tenant') renderTenantHistory();
    if (view === 'workers') loadWorkers();
  }
}

function startPolling() {
  stopPolling();
  state.historyAt = Date.now();
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
  setRange(currentRange());
  for (const button of document.querySelectorAll('.range button')) {
    button.addEventListener('click', () => {
      setRange(button.dataset.range);
      if (currentView() === 'overview') renderOverviewHistory();
      else renderTenantHistory();
    });
  }

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
  $('#diff-form').addEventListener('submit', diffSubmitted);
  $('#profile-form').addEventListener('submit', recordProfile);
  $('#source-close').addEventListener('click', () => ($('#source-panel').hidden = true));
  $('#env-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    await setEnv($('#env-name').value.trim(), $('#env-value').value, $('#env-secret').checked);
    $('#env-name').value = '';
    $('#env-value').value = '';
  });
}

wire();
if (session.token) {
  signIn(session.token).catch((error) => signOut(`Sign-in failed: ${describe(error)}`));
} else {
  showSignedIn(false);
}
