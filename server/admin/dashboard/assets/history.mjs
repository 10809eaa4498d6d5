// The views over a time range: totals (cards) and charts from GET /v1/history, which answers
// from islet's own per-minute store or the configured Prometheus server. One range picker per
// view; the choice is kept for the tab (sessionStorage) and applied to every view.
import { json } from './api.mjs';
import { format, timeChart } from './charts.mjs';
import { $, h, state } from './page.mjs';

const RANGE_KEY = 'islet.range';
export const RANGES = ['15m', '1h', '6h', '24h', '7d'];

export function currentRange() {
  const saved = sessionStorage.getItem(RANGE_KEY);
  return RANGES.includes(saved) ? saved : '1h';
}

export function setRange(range) {
  sessionStorage.setItem(RANGE_KEY, range);
  for (const button of document.querySelectorAll('.range button')) {
    button.setAttribute('aria-pressed', String(button.dataset.range === range));
  }
}

/** the history of `tenant` (or every tenant), for the current range */
export async function loadHistory(tenant) {
  const query = new URLSearchParams({ range: currentRange() });
  if (tenant) query.set('tenant', tenant);
  return json(`/v1/history?${query}`);
}

const count = (v) => (v >= 10_000 ? `${(v / 1000).toFixed(v >= 100_000 ? 0 : 1)}k` : String(Math.round(v)));

function stat(label, value, detail, kind = '') {
  return h(
    'div',
    { class: `stat ${kind}`, dataset: { stat: label.toLowerCase().replace(/\W+/g, '-') } },
    h('span', { class: 'stat-label' }, label),
    h('span', { class: 'stat-value' }, value),
    detail ? h('span', { class: 'stat-detail' }, detail) : null,
  );
}

function worst(values) {
  const finite = values.filter((v) => v !== null && Number.isFinite(v));
  return finite.length ? Math.max(...finite) : null;
}

/** the cards: requests, error rate, p99 latency, CPU, cold starts, limit cuts over the range */
export function renderStats(target, series, answer) {
  const totals = series.totals;
  const errorRate = totals.requests > 0 ? totals.errors / totals.requests : null;
  const seconds = answer.t.length * answer.stepSeconds || 1;
  $(target).replaceChildren(
    stat('Requests', count(totals.requests), `${format.rate(totals.requests / seconds)}/s average`),
    stat('Errors', format.percent(errorRate), `${count(totals.errors)} answered 5xx`, totals.errors > 0 ? 'bad' : ''),
    stat('p99 latency', format.seconds(worst(series.p99)), `p50 up to ${format.seconds(worst(series.p50))}`),
    stat('CPU time', format.seconds(totals.cpuSeconds), 'in isolates'),
    stat('Cold starts', count(totals.coldStarts), 'isolates started'),
    stat('Limit cuts', count(totals.limitCuts), 'requests cut', totals.limitCuts > 0 ? 'warn' : ''),
  );
}

/** the charts of one series (a tenant, or `_all`) into the figures named by `targets` */
export function renderCharts(targets, series, answer) {
  const total = (values) => values.reduce((a, b) => a + b, 0);
  const put = (selector, chart) => {
    const el = $(selector);
    if (el) el.replaceChildren(chart);
  };
  const note = answer.source === 'prometheus' ? ' (Prometheus)' : '';
  put(
    targets.requests,
    timeChart({
      title: `Requests by status${note}`,
      t: answer.t,
      stacked: true,
      format: count,
      series: [
        { name: '2xx', values: series.requests['2xx'], color: 'c-ok', total: total(series.requests['2xx']) },
        { name: '3xx', values: series.requests['3xx'], color: 'c-info', total: total(series.requests['3xx']) },
        { name: '4xx', values: series.requests['4xx'], color: 'c-warn', total: total(series.requests['4xx']) },
        { name: '5xx', values: series.requests['5xx'], color: 'c-bad', total: total(series.requests['5xx']) },
      ],
    }),
  );
  put(
    targets.latency,
    timeChart({
      title: 'Latency',
      t: answer.t,
      format: format.seconds,
      series: [
        { name: 'p50', values: series.p50, color: 'c-info' },
        { name: 'p99', values: series.p99, color: 'c-accent' },
      ],
    }),
  );
  if (targets.cpu)
    put(
      targets.cpu,
      timeChart({
        title: 'CPU time per second',
        t: answer.t,
        format: format.cpuShare,
        series: [{ name: 'CPU', values: series.cpu, color: 'c-accent' }],
      }),
    );
  if (targets.memory)
    put(
      targets.memory,
      timeChart({
        title: 'Memory',
        t: answer.t,
        format: format.bytes,
        series: [{ name: 'heap + buffers', values: series.memory, color: 'c-info' }],
      }),
    );
}

/** an answer's series for one tenant, or empty ones of the right length */
export function seriesOf(answer, name) {
  const found = answer.tenants?.[name];
  if (found) return found;
  const zeros = answer.t.map(() => 0);
  const nulls = answer.t.map(() => null);
  return {
    requests: { '2xx': zeros, '3xx': zeros, '4xx': zeros, '5xx': zeros },
    rps: zeros,
    errorRate: nulls,
    p50: nulls,
    p99: nulls,
    cpu: zeros,
    coldStarts: zeros,
    limitCuts: zeros,
    memory: nulls,
    totals: { requests: 0, errors: 0, coldStarts: 0, limitCuts: 0, cpuSeconds: 0 },
  };
}

state.historyAt = 0;
