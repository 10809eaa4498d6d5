// The Nodes card of the workers view: GET /v1/nodes, one row per node sharing the store, with
// how many changes of the log it has not applied yet (lag) and how long ago it last beat.
import { json } from './api.mjs';
import { $, describe, h } from './page.mjs';

function ago(ms) {
  if (ms < 1500) return 'just now';
  if (ms < 120_000) return `${Math.round(ms / 1000)} s ago`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min ago`;
  return `${(ms / 3_600_000).toFixed(1)} h ago`;
}

function stateOf(node) {
  if (node.leftAt) return ['left', 'down'];
  if (!node.live) return ['not live', 'down'];
  if (!node.ready) return ['catching up', 'starting'];
  return ['live', ''];
}

export async function loadNodes() {
  let answer;
  try {
    answer = await json('/v1/nodes');
  } catch (error) {
    $('#nodes-summary').textContent = `Nodes unavailable: ${describe(error)}`;
    $('#nodes tbody').replaceChildren();
    return;
  }
  const lagging = answer.nodes.filter((n) => n.live && n.lag > 0).length;
  $('#nodes-summary').textContent =
    `${answer.live} of ${answer.nodes.length} live at store revision ${answer.revision}` +
    (lagging ? `; ${lagging} behind` : '');
  $('#nodes tbody').replaceChildren(
    ...answer.nodes.map((n) => {
      const [label, tone] = stateOf(n);
      return h(
        'tr',
        { dataset: { node: n.id, live: String(n.live) } },
        h('th', { scope: 'row', 'data-label': 'Node' }, n.self ? `${n.id} (this node)` : n.id),
        h('td', { 'data-label': 'Address' }, n.address),
        h('td', { 'data-label': 'State' }, h('span', { class: `pill ${tone}` }, label)),
        h('td', { 'data-label': 'Revision', class: 'num' }, String(n.revision)),
        h('td', { 'data-label': 'Lag', class: 'num' }, String(n.lag)),
        h('td', { 'data-label': 'Workers', class: 'num' }, String(n.workers)),
        h('td', { 'data-label': 'Version' }, n.version),
        h('td', { 'data-label': 'Last seen', title: n.lastSeen }, ago(n.silentMs)),
      );
    }),
  );
}
