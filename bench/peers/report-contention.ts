// The report's contention section (`bench:peers --contention`): hello world alone and beside a
// fixed CPU hog, per system, how much each kept, how much CPU the hog got beside it, and islet
// against workerd under the same hog (issue 21's target: at least 1.5x). Also its chart.
import { renderPanelChart } from '../lib/svg-chart';
import { median } from '../lib/stats';
import { colorFor, fmtMs, fmtRatio, fmtRps, met, peersOf, ratio } from './report-format';
import type { PeerResults } from './results';

/** the contention chart's SVG (alone and beside the hog, per system), or null without contention numbers */
export function contentionChart(r: PeerResults): string | null {
  const c = r.contention;
  if (!c) return null;
  const measured = r.systems.filter((s) => !s.unavailable);
  const panels = c.workloads.flatMap((w) => {
    const label = r.workloads.find((x) => x.id === w)?.label ?? w;
    return [
      {
        title: `${label}, alone`,
        values: measured.map((s) => r.throughput.median[w]?.[s.id]?.requestsPerSecond ?? null),
      },
      {
        title: `${label}, beside the hog`,
        values: measured.map((s) => c.throughput.median[w]?.[s.id]?.requestsPerSecond ?? null),
      },
    ];
  });
  if (!panels.some((p) => p.values.some((v) => v !== null))) return null;
  return renderPanelChart({
    title: `Requests per second alone and beside a CPU hog of ${c.hogThreads} spinning process(es)`,
    subtitle: `higher is better · ${r.machine.cores} cores · ${r.machine.cpuModel} · ${r.machine.date.slice(0, 10)}`,
    series: measured.map((s, i) => ({ label: s.label, color: colorFor(s.id, i) })),
    panels,
    format: fmtRps,
  });
}

export function renderContention(r: PeerResults): string[] {
  const c = r.contention;
  if (!c) return [];
  const measured = r.systems.filter((s) => !s.unavailable);
  const L: string[] = [
    '## Under contention (a CPU hog beside every system)',
    '',
    `\`--contention\`: after the main phase, ${c.workloads.join(', ')} again with a CPU hog of ${c.hogThreads} ` +
      `process(es) spinning at normal priority for the whole phase (bench/peers/hog.ts) on ${r.machine.cores} cores, ` +
      `${r.settings.rounds} round(s) alternating the systems. "Kept" is req/s beside the hog over req/s alone (main ` +
      "phase); the hog's cores is the CPU it got during the measured runs (median over rounds): what the system " +
      'left it.',
    '',
  ];
  if (contentionChart(r)) L.push('![contention](bench/charts/peers-contention.svg)', '');
  L.push(
    '| workload | system | req/s alone | req/s beside the hog | kept | p99 alone (ms) | ' +
      'p99 beside the hog (ms) | hog cores |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  );
  const n = (v: number | undefined) => (v === undefined ? 'n/a' : Math.round(v).toLocaleString('en-US'));
  for (const w of c.workloads) {
    for (const s of measured) {
      const alone = r.throughput.median[w]?.[s.id];
      const hogged = c.throughput.median[w]?.[s.id];
      const cores = c.hogCores[w]?.[s.id];
      L.push(
        `| ${w} | ${s.label} | ${n(alone?.requestsPerSecond)} | ${n(hogged?.requestsPerSecond)} | ` +
          `${fmtRatio(ratio(hogged?.requestsPerSecond, alone?.requestsPerSecond))} | ` +
          `${alone ? fmtMs(alone.p99Ms) : 'n/a'} | ${hogged ? fmtMs(hogged.p99Ms) : 'n/a'} | ` +
          `${cores?.length ? median(cores).toFixed(2) : 'n/a'} |`,
      );
    }
  }
  const islets = measured.filter((s) => s.id.startsWith('islet'));
  if (islets.length && c.workloads.includes('hello')) {
    L.push('', '| aim (beside the hog) | target | measured | met |', '|---|---|---|---|');
    for (const i of islets) {
      const peer = peersOf(i.id, measured).find((p) => p.id.startsWith('workerd'));
      const mine = c.throughput.median.hello?.[i.id];
      const theirs = peer ? c.throughput.median.hello?.[peer.id] : undefined;
      const rps = ratio(mine?.requestsPerSecond, theirs?.requestsPerSecond);
      const p99 = ratio(mine?.p99Ms, theirs?.p99Ms);
      const label = peer?.label ?? 'workerd';
      L.push(
        `| ${i.label} hello world vs ${label}, same hog | ≥ 1.5x | ${fmtRatio(rps)} | ${met(rps, (x) => x >= 1.5)} |`,
      );
      L.push(`| ${i.label} p99 vs ${label}, same hog | ≤ 1x | ${fmtRatio(p99)} | ${met(p99, (x) => x <= 1)} |`);
    }
  }
  L.push('');
  return L;
}
