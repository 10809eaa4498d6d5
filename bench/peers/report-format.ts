// Formatting and pairing shared by the report's sections (./report.ts, ./report-contention.ts).
const COLORS: Record<string, string> = {
  node: '#7f8c8d',
  workerd: '#f38020',
  'workerd-p2': '#f8b878',
  islet: '#2e86de',
  'islet-w2': '#0b3d91',
};
const EXTRA_COLORS = ['#10ac84', '#8e44ad', '#c0392b'];

export function colorFor(id: string, i: number): string {
  return COLORS[id] ?? EXTRA_COLORS[i % EXTRA_COLORS.length];
}

export function fmtRps(v: number): string {
  return v >= 10_000 ? `${(v / 1000).toFixed(1)}k` : v >= 1000 ? `${(v / 1000).toFixed(2)}k` : v.toFixed(0);
}
export function fmtMs(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}
export function fmtRatio(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? 'n/a' : `${v.toFixed(2)}x`;
}
export function mib(bytes: number | undefined): string {
  return bytes === undefined ? 'n/a' : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** The peers an islet variant is compared with: bare node:http, and workerd with the same number
 *  of processes (islet --workers N beside workerd xN), falling back to single-process workerd. */
export function peersOf(isletId: string, measured: { id: string; label: string }[]): { id: string; label: string }[] {
  const n = /^islet-w(\d+)$/.exec(isletId)?.[1];
  const wanted = ['node', n && measured.some((s) => s.id === `workerd-p${n}`) ? `workerd-p${n}` : 'workerd'];
  return wanted
    .map((id) => measured.find((s) => s.id === id))
    .filter((s): s is { id: string; label: string } => s !== undefined);
}

export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || !(b > 0) ? undefined : a / b;
}

export function met(v: number | undefined, ok: (x: number) => boolean): string {
  return v === undefined ? 'n/a' : ok(v) ? 'yes' : '**no**';
}
