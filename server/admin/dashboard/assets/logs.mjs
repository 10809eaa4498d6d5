// Log search: a tenant's lines filtered on the server (GET /v1/tenants/{t}/logs with level,
// status, method, q and since), newest 500 shown oldest first, and following new matching lines
// as they are written. One instance in the tenant view, one in the Logs view with a tenant field.
import { request, tenantPath } from './api.mjs';
import { describe, flash, h } from './page.mjs';

/** What a log record says, in one line: console text, a request summary or a limit cut. */
function logText(record) {
  if (record.source === 'request') {
    const cpu = `cpu ${record.cpuMs} ms${record.cold ? ', cold start' : ''}`;
    return `${record.method} ${record.path} → ${record.status} in ${record.wallMs} ms (${cpu})`;
  }
  if (record.source === 'limit')
    return `${record.limit} limit exceeded: ${record.measured} ${record.unit ?? ''}`.trim();
  return String(record.message ?? record.msg ?? JSON.stringify(record));
}

function logLine(record) {
  const level =
    record.consoleLevel ??
    (record.source === 'request' ? 'req' : record.source === 'limit' ? 'limit' : record.level) ??
    '';
  const status = record.source === 'request' ? (record.status >= 500 ? 's5' : record.status >= 400 ? 's4' : 's2') : '';
  return h(
    'div',
    { class: `log ${record.level ?? ''} ${record.source ?? ''} ${status}` },
    h('time', { datetime: record.time ?? '' }, record.time ? new Date(record.time).toLocaleTimeString() : ''),
    h('span', { class: 'level' }, level),
    h('span', { class: 'message' }, logText(record)),
    record.requestId ? h('code', { class: 'rid' }, record.requestId) : null,
    record.stack ? h('pre', {}, String(record.stack)) : null,
  );
}

export function parseNdjson(text) {
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

/** the filter form's values as query parameters */
function filters(form) {
  const data = new FormData(form);
  const query = new URLSearchParams();
  for (const key of ['q', 'level', 'status', 'method', 'since']) {
    const value = String(data.get(key) ?? '').trim();
    if (value) query.set(key, value);
  }
  return query;
}

/**
 * Wires one log search box. `tenantOf()` names the tenant (the form's tenant field when there is
 * one). Returns { load, stop }: load() searches now; stop() ends a follow stream.
 */
export function logSearch(root, tenantOf) {
  const form = root.querySelector('[data-log-filters]');
  const box = root.querySelector('[data-log-box]');
  const summary = root.querySelector('[data-log-summary]');
  const follow = form.querySelector('[name=follow]');
  let abort = null;
  const tenant = () => (form.elements.tenant ? form.elements.tenant.value.trim() : tenantOf());

  function stop() {
    abort?.abort();
    abort = null;
  }

  async function load() {
    const name = tenant();
    if (!name) return;
    const query = filters(form);
    query.set('limit', '500');
    summary.textContent = 'Searching…';
    try {
      const text = await (await request(`${tenantPath(name)}/logs?${query}`)).text();
      if (name !== tenant()) return;
      const records = parseNdjson(text);
      const filtered = [...query.keys()].some((k) => k !== 'limit');
      summary.textContent = `${records.length}${records.length === 500 ? '+' : ''} line${records.length === 1 ? '' : 's'}${filtered ? ' matching' : ''}`;
      box.replaceChildren(
        ...(records.length
          ? records.map(logLine)
          : [h('p', { class: 'muted' }, filtered ? 'No line matches.' : 'No logs yet.')]),
      );
      box.scrollTop = box.scrollHeight;
    } catch (error) {
      summary.textContent = '';
      box.replaceChildren(h('p', { class: 'muted' }, `Logs unavailable: ${describe(error)}`));
    }
    if (follow.checked) startFollowing();
  }

  async function startFollowing() {
    stop();
    const name = tenant();
    if (!name) return;
    const controller = new AbortController();
    abort = controller;
    const query = filters(form);
    query.delete('since');
    query.set('follow', '1');
    query.set('limit', '0');
    try {
      const response = await request(`${tenantPath(name)}/logs?${query}`, { signal: controller.signal });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = '';
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
        while (box.childElementCount > 1000) box.firstElementChild.remove();
        box.scrollTop = box.scrollHeight;
      }
    } catch (error) {
      if (!controller.signal.aborted) flash(`Log stream ended: ${describe(error)}`);
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    load();
  });
  for (const select of form.querySelectorAll('select')) select.addEventListener('change', () => load());
  follow.addEventListener('change', () => (follow.checked ? startFollowing() : stop()));
  return { load, stop, clear: () => box.replaceChildren() };
}
