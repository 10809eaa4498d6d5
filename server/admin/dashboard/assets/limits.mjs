// The limit events view: totals per tenant and limit from /metrics, the recent cuts read from the
// tenants' logs (measured value, request id, stack), and the events seen while the page is open.
import { request, tenantPath } from './api.mjs';
import { parseNdjson } from './logs.mjs';
import { $, h, state } from './page.mjs';

/** The limit lines of the tenants' logs (measured value, request id, stack), newest first. */
export async function loadLimitDetails() {
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

export function renderLimits() {
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
            h(
              'td',
              {},
              r.stack
                ? h('details', {}, h('summary', {}, firstFrame(r.stack)), h('pre', {}, r.stack))
                : h('span', { class: 'muted' }, '—'),
            ),
          ),
        )
      : [h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No cut in the recent logs.'))]),
  );
  $('#limit-events').replaceChildren(
    ...[...state.stats.limitEvents]
      .reverse()
      .map((e) =>
        h(
          'li',
          { dataset: { tenant: e.tenant, limit: e.limit } },
          h('time', {}, new Date(e.time).toLocaleTimeString()),
          ` ${e.tenant}: ${e.limit} limit`,
          e.count > 1 ? ` ×${e.count}` : '',
        ),
      ),
  );
}

/** The first stack frame that names a place, shown before the whole stack is opened. */
function firstFrame(stack) {
  const frame = String(stack)
    .split('\n')
    .find((line) => /^\s*at /.test(line));
  return frame ? frame.trim() : 'stack';
}
