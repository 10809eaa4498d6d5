// Inline SVG charts, drawn by hand (no library, nothing loaded from elsewhere): a sparkline per
// live metric, and time charts with axes, gridlines, a legend with totals and a hover readout for
// the history views (stacked bars for requests by status, lines for latency, CPU, memory).
const SVG = 'http://www.w3.org/2000/svg';

function svgEl(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** 1, 2 or 5 times a power of ten: tick steps a reader takes in at a glance */
function niceStep(max, count) {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
}

function timeLabel(ms, spanMs) {
  const d = new Date(ms);
  const hm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  return spanMs > 36 * 3600_000 ? `${d.getMonth() + 1}/${d.getDate()} ${hm}` : hm;
}

/**
 * A time chart: `t` (epoch ms per step) and `series` [{ name, values, color }]; `stacked` draws
 * bars whose segments sit on each other (requests by status), else lines. `format` writes values on
 * the y axis, the legend and the readout; the legend shows each series' `total` when given.
 */
export function timeChart({ title, t, series, stacked = false, format: fmt = String, width = 560, height = 220 }) {
  const pad = { top: 12, right: 12, bottom: 26, left: 56 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  const figure = document.createDocumentFragment();
  const head = document.createElement('figcaption');
  head.className = 'chart-head';
  const titleEl = document.createElement('span');
  titleEl.className = 'chart-title';
  titleEl.textContent = title;
  const legend = document.createElement('ul');
  legend.className = 'legend';
  for (const s of series) {
    const li = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = `swatch ${s.color}`;
    li.append(swatch, `${s.name}${s.total !== undefined ? ` ${fmt(s.total)}` : ''}`);
    legend.append(li);
  }
  head.append(titleEl, legend);
  const svg = svgEl('svg', {
    viewBox: `0 0 ${width} ${height}`,
    class: 'time-chart',
    role: 'img',
    'aria-label': title,
  });
  // stacked sums, or the values themselves
  const n = t.length;
  const tops = series.map(() => new Array(n).fill(0));
  series.forEach((s, i) => {
    for (let k = 0; k < n; k++) {
      const v = Number.isFinite(s.values[k]) ? s.values[k] : 0;
      tops[i][k] = stacked && i > 0 ? tops[i - 1][k] + v : v;
    }
  });
  const max = Math.max(
    0,
    ...tops.flatMap((row, i) => row.filter((_, k) => stacked || Number.isFinite(series[i].values[k]))),
  );
  const step = max > 0 ? niceStep(max, 4) : 1;
  const top = max > 0 ? Math.ceil(max / step) * step : 4;
  const x = (k) => pad.left + (n > 1 ? (k / (n - 1)) * w : w / 2);
  const y = (v) => pad.top + h - (v / top) * h;
  const axis = svgEl('g', { class: 'axis' });
  const ticks = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(v);
  // a unit format may round neighbouring ticks to one label: then say them with the step's precision
  let labels = ticks.map((v) => fmt(v));
  if (new Set(labels).size < labels.length) labels = ticks.map((v) => fmt(v, step));
  ticks.forEach((v, i) => {
    axis.append(
      svgEl('line', { x1: pad.left, x2: pad.left + w, y1: y(v), y2: y(v), class: v === 0 ? 'base' : 'grid' }),
    );
    axis.append(svgEl('text', { x: pad.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick y-tick' }, labels[i]));
  });
  const span = n > 1 ? t[n - 1] - t[0] : 0;
  const times = Math.min(6, n);
  for (let j = 0; j < times; j++) {
    const k = times > 1 ? Math.round((j / (times - 1)) * (n - 1)) : 0;
    if (t[k] === undefined) continue;
    const anchor = j === 0 ? 'start' : j === times - 1 ? 'end' : 'middle';
    axis.append(
      svgEl('text', { x: x(k), y: height - 6, 'text-anchor': anchor, class: 'tick x-tick' }, timeLabel(t[k], span)),
    );
  }
  svg.append(axis);
  series.forEach((s, i) => {
    if (n === 0) return;
    if (stacked) {
      // stacked series are bars: one column per step, each series a segment of it
      const width = Math.max(1, (n > 1 ? w / (n - 1) : w) * 0.72);
      const group = svgEl('g', { class: `bars ${s.color}` });
      for (let k = 0; k < n; k++) {
        if (!(s.values[k] > 0)) continue;
        const top = y(tops[i][k]);
        const bottom = y(i > 0 ? tops[i - 1][k] : 0);
        const left = Math.max(pad.left, Math.min(pad.left + w - width, x(k) - width / 2));
        group.append(
          svgEl('rect', {
            x: left.toFixed(1),
            y: top.toFixed(1),
            width: width.toFixed(1),
            height: Math.max(0.5, bottom - top).toFixed(1),
          }),
        );
      }
      svg.append(group);
      return;
    }
    let d = '';
    let started = false;
    const known = (k) => Number.isFinite(s.values[k]);
    for (let k = 0; k < n; k++) {
      if (!known(k)) {
        started = false;
        continue;
      }
      d += `${started ? 'L' : 'M'}${x(k).toFixed(1)},${y(tops[i][k]).toFixed(1)}`;
      started = true;
      // a point with no neighbour draws no line: mark it
      if (!known(k - 1) && !known(k + 1))
        svg.append(
          svgEl('circle', { cx: x(k).toFixed(1), cy: y(tops[i][k]).toFixed(1), r: 2.5, class: `dot ${s.color}` }),
        );
    }
    svg.append(svgEl('path', { d, class: `line ${s.color}` }));
  });
  // hover readout: the step under the pointer, every series' value at it
  const cursor = svgEl('line', { y1: pad.top, y2: pad.top + h, class: 'cursor', visibility: 'hidden' });
  const readout = svgEl('text', { x: pad.left + 6, y: pad.top + 12, class: 'readout' });
  svg.append(cursor, readout);
  svg.addEventListener('pointermove', (event) => {
    const box = svg.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * width;
    const k = Math.max(0, Math.min(n - 1, Math.round(((px - pad.left) / w) * (n - 1))));
    if (!n) return;
    cursor.setAttribute('x1', String(x(k)));
    cursor.setAttribute('x2', String(x(k)));
    cursor.setAttribute('visibility', 'visible');
    readout.textContent = `${timeLabel(t[k], span)}  ${series.map((s) => `${s.name} ${Number.isFinite(s.values[k]) ? fmt(s.values[k]) : '–'}`).join('  ')}`;
  });
  svg.addEventListener('pointerleave', () => {
    cursor.setAttribute('visibility', 'hidden');
    readout.textContent = '';
  });
  figure.append(head, svg);
  return figure;
}

/** A sparkline of `values` (null = no data at that point) scaled to its own maximum. */
export function sparkline(values, { width = 120, height = 28, label = '' } = {}) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('class', 'spark');
  // stretched to its box when CSS widens it: the line's shape matters, not its aspect ratio
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  const finite = values.filter((v) => v !== null && Number.isFinite(v));
  const max = Math.max(...finite, 0) || 1;
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = [];
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) return;
    const y = height - 2 - (v / max) * (height - 4);
    points.push(`${(i * step).toFixed(1)},${y.toFixed(1)}`);
  });
  const base = document.createElementNS(SVG, 'line');
  base.setAttribute('x1', '0');
  base.setAttribute('x2', String(width));
  base.setAttribute('y1', String(height - 1));
  base.setAttribute('y2', String(height - 1));
  base.setAttribute('class', 'spark-base');
  svg.append(base);
  if (points.length > 0) {
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', points.length === 1 ? `0,${points[0].split(',')[1]} ${points[0]}` : points.join(' '));
    line.setAttribute('class', 'spark-line');
    svg.append(line);
  }
  return svg;
}

/** Human-readable numbers for the metric cards. */
export const format = {
  rate: (v) => (v === null ? '–' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)),
  percent: (v) => (v === null ? '–' : `${(v * 100).toFixed(v >= 0.1 ? 0 : 1)}%`),
  seconds: (v, step) =>
    v === null
      ? '–'
      : v === 0
        ? '0'
        : v >= 1
          ? `${v.toFixed(2)} s`
          : v >= 0.001
            ? `${(v * 1000).toFixed(step !== undefined && step < 0.0001 ? 2 : 1)} ms`
            : `${(v * 1e6).toFixed(0)} µs`,
  cpu: (v) => (v === null ? '–' : `${(v * 1000).toFixed(v >= 0.1 ? 0 : 1)} ms/s`),
  cpuShare: (v, step) => {
    if (v === null) return '–';
    if (v >= 1) return `${v.toFixed(2)} s/s`;
    const digits =
      step === undefined ? (v >= 0.01 ? 0 : 1) : Math.max(0, Math.min(4, -Math.floor(Math.log10(step * 1000))));
    return `${(v * 1000).toFixed(digits)} ms/s`;
  },
  bytes: (v) => {
    if (v === null) return '–';
    if (v >= 1 << 30) return `${(v / (1 << 30)).toFixed(1)} GiB`;
    if (v >= 1 << 20) return `${(v / (1 << 20)).toFixed(1)} MiB`;
    if (v >= 1 << 10) return `${(v / (1 << 10)).toFixed(0)} KiB`;
    return `${v} B`;
  },
};
