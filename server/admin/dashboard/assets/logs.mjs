// The tenant view's logs: the recent lines, and following new ones as they are written.
import { request, tenantPath } from './api.mjs';
import { $, describe, flash, h, state } from './page.mjs';

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

export async function loadLogs() {
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

export async function followLogs() {
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

export function stopLogs() {
  state.logAbort?.abort();
  state.logAbort = null;
}
