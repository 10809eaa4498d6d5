// The tenant view's CPU profile: records one through the admin API (POST .../profile), offers the
// `.cpuprofile` for download (Chrome DevTools opens it) and draws it as a flame graph in SVG,
// root on top, each frame as wide as the samples under it. Clicking a frame zooms to it; clicking
// the root zooms out. Frame names and places go in as text nodes and attributes only.
import { request, tenantPath } from './api.mjs';
import { $, describe, state } from './page.mjs';

const SVG = 'http://www.w3.org/2000/svg';
const ROW = 18;
const WIDTH = 1000;

function svgEl(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  if (text !== undefined) el.textContent = text;
  return el;
}

let downloadUrl = null;

/** Forgets the previous tenant's profile. */
export function clearProfile() {
  $('#profile-flame').replaceChildren();
  $('#profile-flame').hidden = true;
  $('#profile-status').textContent = '';
  $('#profile-download').hidden = true;
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = null;
}

export async function recordProfile(event) {
  event.preventDefault();
  const tenant = state.tenant;
  if (!tenant) return;
  const seconds = Number($('#profile-seconds').value) || 5;
  const button = $('#profile-start');
  clearProfile();
  button.disabled = true;
  $('#profile-status').textContent = `Sampling ${tenant} for ${seconds} s…`;
  try {
    const response = await request(`${tenantPath(tenant)}/profile?seconds=${seconds}`, { method: 'POST' });
    const text = await response.text();
    if (tenant !== state.tenant) return;
    const profile = JSON.parse(text);
    const isolates = Number(response.headers.get('x-islet-isolates') ?? 0);
    downloadUrl = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
    const link = $('#profile-download');
    link.href = downloadUrl;
    link.download = `${tenant}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`;
    link.hidden = false;
    const samples = profile.samples.length;
    $('#profile-status').textContent =
      `${samples} samples of ${isolates} isolate${isolates === 1 ? '' : 's'}` +
      (samples ? '' : ': no code of this tenant ran while sampling (send it traffic during the profile)');
    drawFlame(profile);
  } catch (error) {
    if (tenant === state.tenant) $('#profile-status').textContent = `Profile failed: ${describe(error)}`;
  } finally {
    button.disabled = false;
  }
}

/** The call tree with each node's total samples (its own and its callees'), idle time left out. */
export function callTree(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, { node: n, total: 0, children: [] }]));
  const parents = new Set(profile.nodes.flatMap((n) => n.children));
  const root = byId.get(profile.nodes.find((n) => !parents.has(n.id))?.id);
  const sum = (entry) => {
    entry.children = entry.node.children
      .map((id) => byId.get(id))
      .filter((c) => c && c.node.callFrame.functionName !== '(idle)');
    entry.total = entry.node.hitCount + entry.children.reduce((s, c) => s + sum(c), 0);
    entry.children = entry.children.filter((c) => c.total > 0).sort((a, b) => b.total - a.total);
    return entry.total;
  };
  if (root) {
    sum(root);
    root.total -= root.node.hitCount; // the root's own samples are time outside any function
  }
  return root;
}

function label(node) {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || '(anonymous)';
  return url ? `${name} ${url}:${lineNumber + 1}` : name;
}

/** A stable warm colour per file, grey for frames outside the tenant's files. */
function colour(node) {
  const url = node.callFrame.url;
  if (!url || url.startsWith('islet:') || url.startsWith('node:')) return '#c9ccd1';
  let hash = 0;
  for (const ch of url) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return `hsl(${20 + (hash % 30)}, 85%, ${62 + (hash % 12)}%)`;
}

function drawFlame(profile) {
  const root = callTree(profile);
  const box = $('#profile-flame');
  if (!root || root.total === 0) return;
  box.hidden = false;
  render(box, root, root);
}

function render(box, root, focus) {
  let depth = 0;
  const walk = (e, d) => {
    depth = Math.max(depth, d);
    for (const c of e.children) walk(c, d + 1);
  };
  walk(focus, 0);
  const svg = svgEl('svg', {
    viewBox: `0 0 ${WIDTH} ${(depth + 1) * ROW}`,
    class: 'flame-graph',
    role: 'img',
    'aria-label': `Flame graph of ${focus.total} samples`,
  });
  const scale = WIDTH / focus.total;
  const place = (entry, x, d) => {
    const width = entry.total * scale;
    if (width < 0.5) return;
    const percent = ((entry.total / root.total) * 100).toFixed(1);
    const g = svgEl('g', { class: 'frame', tabindex: 0 });
    g.append(svgEl('title', {}, `${label(entry.node)} — ${entry.total} samples (${percent}%)`));
    g.append(svgEl('rect', { x, y: d * ROW, width, height: ROW - 1, fill: colour(entry.node), rx: 2 }));
    if (width > 40) {
      // about 6.6 units per character at 11px: cut the label to the frame
      const fits = Math.floor((width - 8) / 6.6);
      const full = label(entry.node);
      g.append(
        svgEl('text', { x: x + 4, y: d * ROW + ROW - 5 }, full.length > fits ? `${full.slice(0, fits - 1)}…` : full),
      );
    }
    g.addEventListener('click', () => render(box, root, entry === focus ? root : entry));
    svg.append(g);
    let cx = x;
    for (const child of entry.children) {
      place(child, cx, d + 1);
      cx += child.total * scale;
    }
  };
  place(focus, 0, 0);
  box.replaceChildren(svg);
}
