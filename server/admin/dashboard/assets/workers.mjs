// The workers view: the processes serving tenants (GET /v1/workers): uptime, restarts, memory,
// isolates and connections per worker slot. Quarantined tenants (issue 15) get their list here
// once the API reports them.
import { json } from './api.mjs';
import { format } from './charts.mjs';
import { $, describe, h } from './page.mjs';

function uptime(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

export async function loadWorkers() {
  let answer;
  try {
    answer = await json('/v1/workers');
  } catch (error) {
    $('#workers-stats').replaceChildren(h('p', { class: 'note' }, `Workers unavailable: ${describe(error)}`));
    $('#workers tbody').replaceChildren();
    return;
  }
  const ready = answer.workers.filter((w) => w.state === 'ready').length;
  const stat = (label, value, detail) =>
    h(
      'div',
      { class: 'stat' },
      h('span', { class: 'stat-label' }, label),
      h('span', { class: 'stat-value' }, value),
      h('span', { class: 'stat-detail' }, detail),
    );
  $('#workers-stats').replaceChildren(
    stat(
      'Mode',
      answer.mode === 'cluster' ? 'Supervised' : 'One process',
      answer.mode === 'cluster' ? `supervisor pid ${answer.supervisor.pid}` : `pid ${answer.supervisor.pid}`,
    ),
    stat(
      'Workers ready',
      `${ready} / ${answer.workers.length}`,
      answer.crashLoops ? `${answer.crashLoops} crash loops` : 'no crash loop',
    ),
    stat('Restarts', String(answer.restarts), 'workers replaced after dying'),
    stat('Up', uptime(answer.supervisor.uptimeS), 'since the server started'),
  );
  $('#workers tbody').replaceChildren(
    ...answer.workers.map((w) =>
      h(
        'tr',
        { dataset: { slot: w.slot, state: w.state } },
        h('th', { scope: 'row', 'data-label': 'Slot' }, String(w.slot)),
        h('td', { 'data-label': 'PID' }, String(w.pid ?? '–')),
        h('td', { 'data-label': 'State' }, h('span', { class: `pill ${w.state}` }, w.state)),
        h('td', { 'data-label': 'Uptime', class: 'num' }, uptime(w.uptimeS)),
        h('td', { 'data-label': 'Restarts', class: 'num' }, String(w.restarts)),
        h('td', { 'data-label': 'RSS', class: 'num' }, w.rssBytes === null ? '–' : format.bytes(w.rssBytes)),
        h('td', { 'data-label': 'Heap', class: 'num' }, w.heapUsedBytes === null ? '–' : format.bytes(w.heapUsedBytes)),
        h('td', { 'data-label': 'Isolates', class: 'num' }, String(w.isolates ?? '–')),
        h('td', { 'data-label': 'Connections', class: 'num' }, String(w.connections ?? '–')),
      ),
    ),
  );
  const quarantined = answer.quarantined ?? [];
  $('#quarantine').hidden = quarantined.length === 0;
  $('#quarantine-list').replaceChildren(
    ...quarantined.map((q) => h('li', {}, `${q.tenant} until ${new Date(q.until).toLocaleTimeString()}`)),
  );
}
