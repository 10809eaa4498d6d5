// Small inline SVG charts: a sparkline per metric, redrawn in place on every poll. No library:
// a polyline over the last N points is all a glance needs.
const SVG = 'http://www.w3.org/2000/svg';

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
  seconds: (v) =>
    v === null
      ? '–'
      : v >= 1
        ? `${v.toFixed(2)} s`
        : v >= 0.001
          ? `${(v * 1000).toFixed(1)} ms`
          : `${(v * 1e6).toFixed(0)} µs`,
  cpu: (v) => (v === null ? '–' : `${(v * 1000).toFixed(v >= 0.1 ? 0 : 1)} ms/s`),
  bytes: (v) => {
    if (v === null) return '–';
    if (v >= 1 << 30) return `${(v / (1 << 30)).toFixed(1)} GiB`;
    if (v >= 1 << 20) return `${(v / (1 << 20)).toFixed(1)} MiB`;
    if (v >= 1 << 10) return `${(v / (1 << 10)).toFixed(0)} KiB`;
    return `${v} B`;
  },
};
