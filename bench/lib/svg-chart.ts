// A small SVG bar-chart renderer, dependency-free: one panel per group (workload), each with
// its own linear scale, one bar per series (system) with its value written on it. Separate
// scales because the workloads differ by orders of magnitude (a hello world vs a 1 MiB stream):
// on one shared axis the slow workloads would be invisible, on a log axis ratios would be hard
// to read.

export interface ChartSeries {
  label: string;
  color: string;
}

export interface PanelChart {
  title: string;
  /** e.g. "requests/s (higher is better)" */
  subtitle: string;
  series: ChartSeries[];
  /** one panel per group: its title and one value per series (null: not measured) */
  panels: { title: string; values: (number | null)[] }[];
  format(value: number): string;
}

const PANEL_W = 190;
const PANEL_H = 210;
const MARGIN = 16;
const HEADER = 80;
const LEGEND_ROW = 18;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten, at least `max`. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

export function renderPanelChart(chart: PanelChart): string {
  const legendRows = Math.ceil(chart.series.length / 4);
  const width = MARGIN * 2 + chart.panels.length * PANEL_W;
  const top = HEADER + legendRows * LEGEND_ROW;
  const height = top + PANEL_H + 14;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${MARGIN}" y="28" font-size="18" font-weight="bold" fill="#222">${esc(chart.title)}</text>`,
    `<text x="${MARGIN}" y="48" font-size="13" fill="#555">${esc(chart.subtitle)}</text>`,
  );
  chart.series.forEach((s, i) => {
    const x = MARGIN + (i % 4) * 170;
    const y = HEADER - 8 + Math.floor(i / 4) * LEGEND_ROW;
    out.push(`<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${s.color}"/>`);
    out.push(`<text x="${x + 18}" y="${y}" font-size="12" fill="#333">${esc(s.label)}</text>`);
  });

  const plotTop = top + 24;
  const plotH = PANEL_H - 40;
  chart.panels.forEach((panel, p) => {
    const x0 = MARGIN + p * PANEL_W;
    const max = niceMax(Math.max(0, ...panel.values.map((v) => v ?? 0)));
    out.push(
      `<text x="${x0 + PANEL_W / 2}" y="${top + 10}" font-size="13" font-weight="bold" text-anchor="middle" fill="#222">${esc(panel.title)}</text>`,
    );
    // baseline and the top gridline with its value
    out.push(
      `<line x1="${x0 + 8}" y1="${plotTop + plotH}" x2="${x0 + PANEL_W - 8}" y2="${plotTop + plotH}" stroke="#999"/>`,
    );
    out.push(`<line x1="${x0 + 8}" y1="${plotTop}" x2="${x0 + PANEL_W - 8}" y2="${plotTop}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x0 + 8}" y="${plotTop - 3}" font-size="10" fill="#888">${esc(chart.format(max))}</text>`);
    const n = chart.series.length;
    const slot = (PANEL_W - 24) / n;
    const barW = Math.min(34, slot - 6);
    panel.values.forEach((v, i) => {
      const cx = x0 + 12 + slot * i + slot / 2;
      if (v === null || !Number.isFinite(v)) {
        out.push(
          `<text x="${cx}" y="${plotTop + plotH - 4}" font-size="10" text-anchor="middle" fill="#aaa">n/a</text>`,
        );
        return;
      }
      const h = Math.max(1, (v / max) * plotH);
      const y = plotTop + plotH - h;
      out.push(
        `<rect x="${cx - barW / 2}" y="${y}" width="${barW}" height="${h}" fill="${chart.series[i].color}"><title>${esc(`${chart.series[i].label}: ${chart.format(v)}`)}</title></rect>`,
      );
      out.push(
        `<text x="${cx}" y="${y - 4}" font-size="10" text-anchor="middle" fill="#333">${esc(chart.format(v))}</text>`,
      );
    });
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
