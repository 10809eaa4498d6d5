// The tenant view's Bindings card: what the tenant's isolates get (its declarations merged with its
// active deployment's wrangler file), KV usage against the quota, each cron trigger with a button
// that runs the scheduled handler now, and the tenant's own declarations as JSON to edit. Server
// data reaches the page only through h() (textContent and attributes).
import { ApiError, json, tenantPath } from './api.mjs';
import { format } from './charts.mjs';
import { $, describe, flash, h, state } from './page.mjs';

let wired = false;

function wire() {
  if (wired) return;
  wired = true;
  $('#bindings-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    let body;
    try {
      body = JSON.parse($('#bindings-json').value || '{}');
    } catch (error) {
      return flash(`Bindings: not JSON: ${error.message}`);
    }
    try {
      const shown = await json(`${tenantPath(state.tenant)}/bindings`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      render(shown, null);
      flash('Bindings saved: the next request starts a new isolate with them.', 'ok');
    } catch (error) {
      flash(describe(error));
    }
  });
}

async function runNow(cron) {
  const out = $('#bindings-run');
  out.textContent = `running '${cron}'…`;
  try {
    const result = await json(`${tenantPath(state.tenant)}/scheduled?cron=${encodeURIComponent(cron)}`, {
      method: 'POST',
    });
    out.textContent =
      `'${result.cron}' ${result.outcome === 'ok' ? 'ran' : `ended: ${result.outcome}`} in ` +
      `${result.wallMs.toFixed(1)} ms (cpu ${result.cpuMs.toFixed(1)} ms)${result.error ? `: ${result.error}` : ''}`;
  } catch (error) {
    out.textContent = describe(error);
  }
}

function rows(entries, empty) {
  return entries.length ? entries : [h('li', { class: 'muted' }, empty)];
}

function render(shown, kv) {
  const e = shown.effective;
  const usage = kv
    ? ` · ${kv.usage.keys} keys, ${format.bytes(kv.usage.bytes)} of ${format.bytes(kv.quota.bytes)}`
    : '';
  $('#bindings-list').replaceChildren(
    h('li', {}, h('strong', {}, 'KV'), usage),
    h(
      'ul',
      {},
      ...rows(
        Object.entries(e.kv).map(([b, id]) => h('li', {}, h('code', {}, b), ' → namespace ', h('code', {}, id))),
        'none',
      ),
    ),
    h('li', {}, h('strong', {}, 'Services')),
    h(
      'ul',
      {},
      ...rows(
        Object.entries(e.services).map(([b, t]) => h('li', {}, h('code', {}, b), ' → tenant ', h('code', {}, t))),
        'none',
      ),
    ),
    h('li', {}, h('strong', {}, 'Cron triggers (UTC)')),
    h(
      'ul',
      {},
      ...rows(
        e.crons.map((cron) =>
          h(
            'li',
            {},
            h('code', {}, cron),
            ' ',
            h('button', { type: 'button', onclick: () => runNow(cron) }, 'Run now'),
          ),
        ),
        'none',
      ),
    ),
    h('li', {}, h('strong', {}, 'Callers'), ` ${e.callers.length ? e.callers.join(', ') : 'none'}`),
    h('li', {}, h('strong', {}, 'Origin'), ` ${e.origin ?? 'none'}`),
  );
  $('#bindings-json').value = JSON.stringify(shown.declared, null, 2);
}

/** Loads the opened tenant's bindings into the card. */
export async function loadBindings() {
  wire();
  const tenant = state.tenant;
  $('#bindings-list').replaceChildren();
  $('#bindings-run').textContent = '';
  try {
    const [shown, kv] = await Promise.all([
      json(`${tenantPath(tenant)}/bindings`),
      json(`${tenantPath(tenant)}/kv`).catch(() => null),
    ]);
    if (tenant === state.tenant) render(shown, kv);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) flash(describe(error));
  }
}
